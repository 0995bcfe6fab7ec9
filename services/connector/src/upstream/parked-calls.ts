import { PARK_TIMEOUT_MS } from '#libs/contracts';
import type { ModernCall } from './modern-call.js';

/**
 * The modern calls of this connector instance that wait for their client's input, by park id. A call is taken out
 * while a client request works on it, so two retries with the same requestState never both deliver answers: the
 * second finds nothing (as does a retry after the call completed, expired or this instance restarted).
 */
export class ParkedCalls {
  private readonly calls = new Map<string, { call: ModernCall; timer: NodeJS.Timeout }>();

  constructor(
    /** Called for a call nobody came back for: its questions are withdrawn from the upstream. */
    private readonly onExpired: (call: ModernCall) => void = () => undefined,
    private readonly timeoutMs = PARK_TIMEOUT_MS,
  ) {}

  park(call: ModernCall): void {
    this.drop(call.parkId);
    const timer = setTimeout(() => {
      this.calls.delete(call.parkId);
      this.onExpired(call);
    }, this.timeoutMs);
    timer.unref();
    this.calls.set(call.parkId, { call, timer });
  }

  /** The parked call, taken out; undefined when there is none or it belongs to another caller (then it stays). */
  take(parkId: string, principal: string | undefined): ModernCall | undefined {
    const parked = this.calls.get(parkId);
    if (!parked || parked.call.principal !== principal) return undefined;
    this.drop(parkId);
    return parked.call;
  }

  get size(): number {
    return this.calls.size;
  }

  close(): void {
    for (const id of [...this.calls.keys()]) this.drop(id);
  }

  private drop(parkId: string): void {
    const parked = this.calls.get(parkId);
    if (!parked) return;
    clearTimeout(parked.timer);
    this.calls.delete(parkId);
  }
}
