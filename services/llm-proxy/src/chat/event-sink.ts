import type { LlmStreamEvent } from '#libs/contracts';

/** The SSE events of one streamed answer, sent over the bus to the edge as they happen. */
export class EventSink {
  private sent = false;

  constructor(private readonly send: (event: LlmStreamEvent) => void) {}

  /** True once the first event left: from then on errors travel in the stream, not as the call's error. */
  get started(): boolean {
    return this.sent;
  }

  data(value: unknown, event?: string): void {
    this.sent = true;
    this.send({ ...(event ? { event } : {}), data: typeof value === 'string' ? value : JSON.stringify(value) });
  }
}
