import { DomainError, type Contract } from '#libs/contracts';

/**
 * Liveness of calls in flight on NATS. NATS tells a caller at once when no replica serves a subject, but not when
 * the replica that took its request dies (kill -9, a lost host): the caller would wait for its whole deadline,
 * which for a tool call is minutes. So a replica answering a call sends the caller a heartbeat frame (headers
 * only, no body) every HEARTBEAT_MS while the call runs, and a caller that hears nothing about a call (no beat,
 * streamed message or reply) for SILENCE_MS gives up with a retryable UPSTREAM_UNAVAILABLE. Calls answered within
 * a second (nearly all) carry no heartbeat at all.
 *
 * One timer per bus on each side, running only while calls are in flight: no timer per call on the hot path.
 */
export const HEARTBEAT_MS = 1_000;
export const SILENCE_MS = 3_500;
const TICK_MS = 250;

/** The callee's side: the calls it is answering, each beaten once per HEARTBEAT_MS until its reply is sent. */
export class Heartbeats {
  private readonly active = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly beat: (replyTo: string) => void) {}

  begin(replyTo: string): void {
    this.active.set(replyTo, Date.now());
    this.timer ??= setInterval(() => this.tick(), TICK_MS).unref();
  }

  end(replyTo: string): void {
    this.active.delete(replyTo);
    if (this.active.size === 0) this.stop();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = Date.now();
    for (const [replyTo, last] of this.active) {
      if (now - last < HEARTBEAT_MS) continue;
      this.active.set(replyTo, now);
      try {
        this.beat(replyTo);
      } catch {
        // the connection is closing: the caller will notice the silence or its own deadline
      }
    }
  }
}

/** The caller's side: when each call in flight was last heard of; a call silent for SILENCE_MS is given up. */
export class SilenceWatch<T> {
  private readonly heard = new Map<T, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onSilent: (call: T) => void,
    private readonly silenceMs = SILENCE_MS,
  ) {}

  watch(call: T): void {
    this.heard.set(call, Date.now());
    this.timer ??= setInterval(() => this.tick(), Math.min(TICK_MS, this.silenceMs / 2)).unref();
  }

  /** Something arrived for the call (a beat, a streamed message, a part). */
  alive(call: T): void {
    if (this.heard.has(call)) this.heard.set(call, Date.now());
  }

  forget(call: T): void {
    this.heard.delete(call);
    if (this.heard.size === 0) this.stop();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const cutoff = Date.now() - this.silenceMs;
    for (const [call, last] of this.heard) {
      if (last > cutoff) continue;
      this.heard.delete(call);
      this.onSilent(call);
    }
    if (this.heard.size === 0) this.stop();
  }
}

/** The error of a call whose replica went silent: it may have done the work, so only its caller may retry it. */
export const silentCallee = (contract: Contract, silenceMs = SILENCE_MS): DomainError =>
  new DomainError(
    'UPSTREAM_UNAVAILABLE',
    `the replica answering ${contract.name} stopped responding (nothing heard for ${silenceMs} ms): it may have stopped; the request may or may not have been carried out`,
    { subject: contract.subject, silent_ms: silenceMs, callee_lost: true },
    true,
  );
