/**
 * Exponential restart backoff for stdio servers: 0.5 s doubling to 30 s. A process that stayed up for
 * `healthyAfterMs` counts as healthy again and its next failure starts from the initial delay.
 */
export class Backoff {
  private failures = 0;
  private retryAt = 0;

  constructor(
    readonly initialMs = 500,
    readonly maxMs = 30_000,
    readonly healthyAfterMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  get attempts(): number {
    return this.failures;
  }

  /** The delay that follows the current number of failures. */
  delayMs(): number {
    if (this.failures === 0) return 0;
    return Math.min(this.maxMs, this.initialMs * 2 ** (this.failures - 1));
  }

  /** Records a failure (a failed start, or a process that died after `upForMs`); returns the wait before the next try. */
  fail(upForMs = 0): number {
    if (upForMs >= this.healthyAfterMs) this.failures = 0;
    this.failures++;
    const delay = this.delayMs();
    this.retryAt = this.now() + delay;
    return delay;
  }

  /** Milliseconds until a new attempt is allowed (0 when it is allowed now). */
  waitMs(): number {
    return Math.max(0, this.retryAt - this.now());
  }

  reset(): void {
    this.failures = 0;
    this.retryAt = 0;
  }
}
