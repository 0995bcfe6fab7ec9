import { randomUUID } from 'node:crypto';
import type { InputRequired, StreamedClientMessage } from '#libs/contracts';
import type { CallStream } from './client-relay.js';

/** An upstream's request to the client, in the embedded form of 2026-07-28 (`inputRequests` values). */
export type InputRequest = InputRequired['requests'][string];

/** The client capability each kind of input request needs. */
const CAPABILITY_OF: Record<string, string> = { 'sampling/createMessage': 'sampling', 'elicitation/create': 'elicitation', 'roots/list': 'roots' };

/** What a bus request waiting on a modern call gets: the call's outcome, or the client's input it needs first. */
export type CallStep =
  | { kind: 'done'; result: Record<string, unknown> }
  | { kind: 'failed'; error: unknown }
  | { kind: 'input'; requests: InputRequired['requests'] };

/**
 * A 2026-07-28 client's call on an upstream session, possibly spanning several of the client's requests. A client
 * of that revision takes no server-to-client requests: what the upstream asks during the call (sampling,
 * elicitation, roots) is collected here and handed back as the step `input`; the call stays parked in this
 * connector (the upstream request still waiting) until the client retries with its answers, on any edge, and the
 * call goes on. Progress and log notifications go to whichever client request is currently waiting.
 */
export class ModernCall implements CallStream {
  readonly parkId = randomUUID();
  /** The relay's session id for the requests this call asks: answers are accepted for this call only. */
  readonly sessionId = `modern-${this.parkId}`;
  /** Asked by the upstream, not yet handed to the client. */
  private readonly asked = new Map<string, InputRequest>();
  /** Handed to the client, not yet answered. */
  private readonly outstanding = new Map<string, InputRequest>();
  private outcome: CallStep | undefined;
  private wake: (() => void) | undefined;

  constructor(
    /** Who called (the key's hash): only the same caller may resume. */
    readonly principal: string | undefined,
    private stream: ((message: StreamedClientMessage) => void) | undefined,
    /** What the client declared it can answer. */
    private readonly capabilities: Record<string, unknown> = {},
  ) {}

  /** The capabilities these questions need that the client did not declare (undefined: none missing). */
  missingCapabilities(requests: Record<string, InputRequest>): Record<string, object> | undefined {
    const missing: Record<string, object> = {};
    for (const request of Object.values(requests)) {
      const capability = CAPABILITY_OF[request.method];
      if (capability && this.capabilities[capability] === undefined) missing[capability] = {};
    }
    return Object.keys(missing).length ? missing : undefined;
  }

  send(message: StreamedClientMessage): void {
    this.stream?.(message);
  }

  /** The relay's hook: the upstream asked the client something during this call. */
  ask(id: string, request: InputRequest): void {
    // the upstream's _meta (its progress token for its own request) means nothing to the client
    const { _meta: _upstreamMeta, ...params } = request.params ?? {};
    this.asked.set(id, { method: request.method, ...(request.params ? { params } : {}) });
    this.wake?.();
  }

  /** The relay's hook: a question was withdrawn (the upstream cancelled it or gave up waiting). */
  withdraw(id: string): void {
    this.asked.delete(id);
    this.outstanding.delete(id);
  }

  settle(outcome: { result: Record<string, unknown> } | { error: unknown }): void {
    this.outcome = 'result' in outcome ? { kind: 'done', result: outcome.result } : { kind: 'failed', error: outcome.error };
    this.wake?.();
  }

  get settled(): boolean {
    return this.outcome !== undefined;
  }

  /**
   * A new client request takes the call over (a retry with answers): later notifications go to its stream, and
   * the answers it carries are returned by key for the relay to deliver. Questions it leaves unanswered are asked
   * again in the next step.
   */
  resume(stream: ((message: StreamedClientMessage) => void) | undefined, responses: Record<string, unknown>): [string, unknown][] {
    this.stream = stream;
    const answered: [string, unknown][] = [];
    for (const [id, request] of this.outstanding) {
      if (id in responses) answered.push([id, responses[id]]);
      else this.asked.set(id, request);
    }
    this.outstanding.clear();
    return answered;
  }

  /** Waits for the call's next step: done, failed, or questions for the client (those asked together go together). */
  async next(): Promise<CallStep> {
    for (;;) {
      if (this.asked.size) {
        // an upstream asking several things at once sends them back to back: let them all arrive
        await new Promise((resolve) => setImmediate(resolve));
        const requests = Object.fromEntries(this.asked);
        for (const [id, request] of this.asked) this.outstanding.set(id, request);
        this.asked.clear();
        return { kind: 'input', requests };
      }
      if (this.outcome) return this.outcome;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
