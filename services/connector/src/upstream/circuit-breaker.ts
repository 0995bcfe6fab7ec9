import { DomainError } from '#libs/contracts';

export interface CircuitBreakerOptions {
  /** Failures in a row (for want of the upstream) that open the breaker. */
  threshold: number;
  /** How long it first stays open before a trial call (ms); doubled after each failed trial, up to maxOpenMs. */
  openMs: number;
  maxOpenMs: number;
}

export const DEFAULT_BREAKER_OPTIONS: CircuitBreakerOptions = { threshold: 5, openMs: 5_000, maxOpenMs: 60_000 };

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * One upstream's circuit breaker in this connector (docs/architecture.md, "Slow and failing upstreams"). Closed,
 * calls go through and failures for want of the upstream (unreachable, timed out) are counted; `threshold` of them
 * in a row open it: calls then fail at once (retryable UPSTREAM_UNAVAILABLE naming when to retry) instead of each
 * waiting for its own timeout. Once `openMs` has passed it is half-open: one trial call goes through; its success
 * closes the breaker, its failure opens it again for twice as long. The upstream's own answers, errors included,
 * are answers: they count as successes.
 */
export class CircuitBreaker {
  private failures = 0;
  private openFor: number;
  private openUntil = 0;
  private trial = false;
  /** Times it opened (tests, logs). */
  opened = 0;

  constructor(
    private readonly server: string,
    private readonly options: CircuitBreakerOptions = DEFAULT_BREAKER_OPTIONS,
    private readonly now: () => number = Date.now,
  ) {
    this.openFor = options.openMs;
  }

  get state(): BreakerState {
    if (this.openUntil === 0) return 'closed';
    return this.now() < this.openUntil ? 'open' : 'half-open';
  }

  /** Before a call: throws while open (and while the half-open trial is out). */
  admit(): void {
    const state = this.state;
    if (state === 'closed') return;
    if (state === 'half-open' && !this.trial) {
      this.trial = true;
      return;
    }
    const retryMs = Math.max(0, this.openUntil - this.now());
    throw new DomainError(
      'UPSTREAM_UNAVAILABLE',
      `upstream ${this.server} is failing (${this.options.threshold} or more calls in a row): calls are refused for now (circuit open); retry in ${Math.ceil(retryMs / 1000) || 1} s`,
      { server: this.server, circuit: state === 'open' ? 'open' : 'half-open', retry_after_ms: retryMs, retry_after_seconds: Math.max(1, Math.ceil(retryMs / 1000)) },
      true,
    );
  }

  /** The upstream answered (whatever it said). */
  succeeded(): void {
    this.failures = 0;
    this.trial = false;
    this.openUntil = 0;
    this.openFor = this.options.openMs;
  }

  /** A call failed for want of the upstream. Returns true when this failure opened the breaker. */
  failed(): boolean {
    if (this.trial) {
      // the trial failed: open again, for longer
      this.trial = false;
      this.openFor = Math.min(this.openFor * 2, this.options.maxOpenMs);
      this.openUntil = this.now() + this.openFor;
      this.opened++;
      return true;
    }
    if (this.openUntil !== 0) return false; // a call admitted before it opened
    this.failures++;
    if (this.failures < this.options.threshold) return false;
    this.openUntil = this.now() + this.openFor;
    this.opened++;
    return true;
  }

  /** A trial call that ended neither way (cancelled, the caller's deadline): the next call may try again. */
  abandoned(): void {
    this.trial = false;
  }
}

/**
 * Whether an upstream call's error says the upstream is failing (unreachable, closing connections, too slow, 5xx),
 * not its own answer: a JSON-RPC error or an HTTP 4xx (one caller's bad credentials, say) is an answer.
 */
export function isUpstreamFailure(error: unknown): boolean {
  if (!(error instanceof DomainError) || error.details?.circuit !== undefined) return false;
  if (error.code !== 'UPSTREAM_UNAVAILABLE' && error.code !== 'UPSTREAM_TIMEOUT') return false;
  const status = error.details?.http_status;
  return !(typeof status === 'number' && status >= 400 && status < 500);
}

/**
 * Tells the breaker how a call through it ended; returns the error unchanged (`throw judge(…)`). `waitedOnClient`:
 * the upstream was waiting for the client's answer to its own request (sampling, elicitation, roots) when the call
 * timed out: the time went to the client, and says nothing about the upstream.
 */
export function judge(breaker: CircuitBreaker, error: DomainError, warn: (message: string) => void, waitedOnClient = false): DomainError {
  if (error.details?.circuit !== undefined) return error; // refused by the breaker itself: nothing was tried
  if (waitedOnClient && error.code === 'UPSTREAM_TIMEOUT') {
    breaker.abandoned();
    return error;
  }
  if (!isUpstreamFailure(error)) breaker.succeeded();
  else if (breaker.failed()) warn(`${error.message}: calls to it are refused for now (circuit open ${breaker.opened} time(s))`);
  return error;
}
