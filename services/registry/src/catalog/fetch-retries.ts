/** How a catalog fetch of one server ended. */
export type FetchOutcome =
  /** The upstream answered (through a connector). */
  | 'answered'
  /** The upstream failed on its own account (refused, timed out, an error of its own): the gateway did its part. */
  | 'failed'
  /** No service answered (no connector, or no registry for the connector's lookup): the upstream was never asked. */
  | 'unanswered';

export interface FetchRetryOptions {
  /** The first retry of a server left out comes after about this long (ms); each further one doubles it. */
  initialMs: number;
  /** The longest wait between two retries (ms). */
  maxMs: number;
  /** [0, 1): the jitter source (tests pass their own). */
  random?: () => number;
}

/** Each wait is its backoff step less up to this fraction, so that replicas and servers do not retry in step. */
const JITTER = 0.25;

interface PendingRetry {
  attempts: number;
  timer: NodeJS.Timeout | undefined;
  unanswered: boolean;
}

/**
 * The catalog's bookkeeping for servers left out of it: each is fetched again with backoff (initialMs doubling up
 * to maxMs, with jitter) until it answers, and all of them at once when a connector joins. It also knows whether
 * every server has been fetched once (answered, or failed on its own account; never "for want of a connector"),
 * which is when the catalog is ready to serve: from then on it stays ready (a server added later does not take the
 * gateway out of service while it is fetched).
 */
export class FetchRetries {
  private readonly pending = new Map<string, PendingRetry>();
  private readonly due = new Set<string>();
  private readonly settled = new Set<string>();
  private readonly random: () => number;
  private ready = false;
  private stopped = false;

  constructor(
    private readonly options: FetchRetryOptions,
    /** Called when retries are due: the owner rebuilds, fetching every server `takeDue` names. */
    private readonly onDue: () => void,
  ) {
    this.random = options.random ?? Math.random;
  }

  /** Records how a fetch ended; a server left out gets its next retry scheduled. Returns the wait (ms), or null. */
  record(serverId: string, outcome: FetchOutcome): number | null {
    if (outcome !== 'unanswered') this.settled.add(serverId);
    if (outcome === 'answered') {
      this.clear(serverId);
      return null;
    }
    const retry = this.pending.get(serverId) ?? { attempts: 0, timer: undefined, unanswered: false };
    if (retry.timer) clearTimeout(retry.timer);
    retry.attempts++;
    retry.unanswered = outcome === 'unanswered';
    const step = Math.min(this.options.maxMs, this.options.initialMs * 2 ** (retry.attempts - 1));
    const wait = Math.max(1, Math.round(step * (1 - JITTER * this.random())));
    retry.timer = this.stopped ? undefined : setTimeout(() => this.fire(serverId), wait);
    retry.timer?.unref();
    this.pending.set(serverId, retry);
    return wait;
  }

  /** A cached entry that says the server answered counts as its fetch. */
  markAnswered(serverId: string): void {
    this.settled.add(serverId);
  }

  /** True when the server was left out and its retry is scheduled here (its cached failure stands until then). */
  isWaiting(serverId: string): boolean {
    return this.pending.has(serverId) && !this.due.has(serverId);
  }

  /** True once if the server's retry is due (the caller fetches it now). */
  takeDue(serverId: string): boolean {
    return this.due.delete(serverId);
  }

  /** How many times in a row the server has been left out. */
  attempts(serverId: string): number {
    return this.pending.get(serverId)?.attempts ?? 0;
  }

  /**
   * A connector joined: every server left out is due now and its backoff starts again (if the connector is not
   * answering yet after all, the next try comes after initialMs). Returns how many are due.
   */
  retryAllNow(): number {
    for (const [serverId, retry] of this.pending) {
      if (retry.timer) clearTimeout(retry.timer);
      retry.timer = undefined;
      retry.attempts = 0;
      this.due.add(serverId);
    }
    return this.pending.size;
  }

  /** Forgets servers that no longer exist. */
  keepOnly(serverIds: ReadonlySet<string>): void {
    for (const serverId of [...this.pending.keys(), ...this.settled]) if (!serverIds.has(serverId)) this.clear(serverId, true);
  }

  /** Called after each build with the servers it covered: the catalog is ready once every one has been fetched. */
  noteBuilt(serverIds: readonly string[]): boolean {
    this.ready ||= serverIds.every((id) => this.settled.has(id));
    return this.ready;
  }

  /** Every server has been fetched once (see the class comment); stays true once it is. */
  isReady(): boolean {
    return this.ready;
  }

  /** The servers still waiting for a connector (or the registry) to answer at all. */
  unanswered(): string[] {
    return [...this.pending].filter(([, retry]) => retry.unanswered).map(([id]) => id);
  }

  stop(): void {
    this.stopped = true;
    for (const retry of this.pending.values()) if (retry.timer) clearTimeout(retry.timer);
    this.pending.clear();
    this.due.clear();
  }

  private fire(serverId: string): void {
    const retry = this.pending.get(serverId);
    if (!retry || this.stopped) return;
    retry.timer = undefined;
    this.due.add(serverId);
    this.onDue();
  }

  private clear(serverId: string, forgetSettled = false): void {
    const retry = this.pending.get(serverId);
    if (retry?.timer) clearTimeout(retry.timer);
    this.pending.delete(serverId);
    this.due.delete(serverId);
    if (forgetSettled) this.settled.delete(serverId);
  }
}
