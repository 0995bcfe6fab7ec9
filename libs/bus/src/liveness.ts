import { DomainError, type Contract } from '#libs/contracts';

/**
 * Liveness of calls in flight on NATS. NATS tells a caller at once when no replica serves a subject, but not when
 * the replica that took its request dies (kill -9, a lost host): the caller would wait for its whole deadline,
 * which for a tool call is minutes. So a replica answering a call sends the caller a heartbeat frame (headers
 * only, no body) every HEARTBEAT_MS while the call runs, and a caller that hears nothing about a call (no beat,
 * streamed message or reply) for SILENCE_MS gives up with a retryable UPSTREAM_UNAVAILABLE. Calls answered within
 * half a second (nearly all) carry no heartbeat at all. A heartbeat also says how many messages the replica has streamed
 * for the call so far: a caller that received fewer lost one (NATS delivers at most once, and drops what it
 * cannot deliver while a connection is re-established), and gives the call up at once instead of waiting for an
 * answer to a question it never saw (a sampling request, say).
 *
 * One timer per bus on each side, running only while calls are in flight: no timer per call on the hot path.
 */
export const HEARTBEAT_MS = 500;
export const SILENCE_MS = 2_500;
/**
 * After this process's connection to the broker came back, what was in flight is given up unless heard of within
 * this long: replies and messages sent while it was away are lost, and a callee still working beats every second.
 */
export const RECONNECT_GRACE_MS = 1_000;
const TICK_MS = 250;

/** The callee's side: the calls it is answering, each beaten once per HEARTBEAT_MS until its reply is sent. */
export class Heartbeats {
  private readonly active = new Map<string, { last: number; streamed: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly beat: (replyTo: string, streamed: number) => void) {}

  begin(replyTo: string): void {
    this.active.set(replyTo, { last: Date.now(), streamed: 0 });
    this.timer ??= setInterval(() => this.tick(), TICK_MS).unref();
  }

  /** One more message streamed to the caller of this call. */
  streamed(replyTo: string): void {
    const call = this.active.get(replyTo);
    if (call) call.streamed++;
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
    for (const [replyTo, call] of this.active) {
      if (now - call.last < HEARTBEAT_MS) continue;
      call.last = now;
      try {
        this.beat(replyTo, call.streamed);
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

  /** Every call in flight is given up unless heard of within `graceMs` from now (the connection came back). */
  expedite(graceMs: number): void {
    const at = Date.now() - this.silenceMs + graceMs;
    for (const [call, last] of this.heard) if (last > at) this.heard.set(call, at);
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
    `the replica answering ${contract.name} stopped responding (nothing heard from it for ${silenceMs} ms, or since the bus reconnected): it may have stopped; the request may or may not have been carried out`,
    { subject: contract.subject, silent_ms: silenceMs, callee_lost: true },
    true,
  );

/** The error of a call one of whose streamed messages never arrived: what it waits for may never come. */
export const lostStreamedMessage = (contract: Contract): DomainError =>
  new DomainError(
    'UPSTREAM_UNAVAILABLE',
    `a message streamed during ${contract.name} was lost on the bus (it reconnected): the call is given up; the request may or may not have been carried out`,
    { subject: contract.subject, stream_lost: true },
    true,
  );
