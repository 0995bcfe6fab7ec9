/**
 * A forwarded call's cancellation: what a client's `notifications/cancelled` reaches. Not an AbortController: on
 * Node 20 the first 'abort' listener of a new AbortSignal costs about 12 µs (measured here: more than most of the
 * rest of the connector's work on a call), and every forwarded call needs one. `toSignal()` makes a real
 * AbortSignal, once, for the rare callee that wants one (the SDK's request handlers' `extra.signal`).
 */
export class Cancellation {
  aborted = false;
  reason: unknown;
  private listeners: Set<(reason: unknown) => void> | undefined;
  private controller: AbortController | undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const listener of listeners) listener(reason);
  }

  /** Runs `listener` when the call is cancelled (once); returns the function that removes it. */
  onAbort(listener: (reason: unknown) => void): () => void {
    (this.listeners ??= new Set()).add(listener);
    return () => this.listeners?.delete(listener);
  }

  /** An AbortSignal aborted with this cancellation (already aborted if it is). */
  toSignal(): AbortSignal {
    if (!this.controller) {
      const controller = (this.controller = new AbortController());
      if (this.aborted) controller.abort(this.reason);
      else this.onAbort((reason) => controller.abort(reason));
    }
    return this.controller.signal;
  }
}
