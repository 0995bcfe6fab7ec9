import type { LlmStreamEvent } from '#libs/contracts';

/**
 * The server-sent events of one streamed answer, sent over the bus to the edge as they happen. Events produced in
 * the same turn of the event loop (a provider's chunks that arrived in one read) leave as one bus message.
 */
export class EventSink {
  private queued = '';
  private scheduled = false;
  private sent = false;

  constructor(private readonly send: (event: LlmStreamEvent) => void) {}

  /** True once the first event was produced: from then on errors travel in the stream, not as the call's error. */
  get started(): boolean {
    return this.sent;
  }

  data(value: unknown, event?: string): void {
    this.sent = true;
    this.queued += `${event ? `event: ${event}\n` : ''}data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends what is queued now; called before the call replies, so that no event follows the reply. */
  flush(): void {
    this.scheduled = false;
    if (!this.queued) return;
    const sse = this.queued;
    this.queued = '';
    this.send({ sse });
  }
}
