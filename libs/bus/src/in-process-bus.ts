import { Logger } from '@nestjs/common';
import { DomainError, type Contract, type EventContract, type PayloadOf } from '#libs/contracts';
import { Bus, type CallOptions, type ServeHandler, type SubscribeOptions } from './bus.js';
import { answerCall, busTimeout, noResponders, parseStreamed, type WireReply, type WireRequest } from './wire.js';

interface Responder {
  contract: Contract;
  handler: ServeHandler;
}

interface Subscriber {
  queue: string | undefined;
  deliver: (payload: unknown) => void;
}

/**
 * The bus of the one-process default: the same contract as NatsBus (requests and replies parsed at both ends,
 * deadlines, streamed replies, queue groups, "no responders"), with function calls instead of a broker.
 * Nothing is serialized: the contracts' parses copy every object, so caller and callee never share one.
 */
export class InProcessBus extends Bus {
  readonly kind = 'in-process' as const;
  private readonly log = new Logger('InProcessBus');
  /** subject -> queue group -> responders, served round-robin like a NATS queue group. */
  private readonly responders = new Map<string, Map<string, Responder[]>>();
  private readonly subscribers = new Map<string, Subscriber[]>();
  private readonly turns = new Map<string, number>();
  private closed = false;
  private readonly pending = new Set<Promise<unknown>>();

  protected async send(contract: Contract, wire: WireRequest, timeoutMs: number, onMessage: ((message: unknown) => void) | undefined): Promise<WireReply> {
    if (this.closed) throw new DomainError('UPSTREAM_UNAVAILABLE', `the bus is closed: ${contract.name} was not sent`, { subject: contract.subject }, true);
    const responder = this.pick(this.responders.get(contract.subject));
    if (!responder) throw noResponders(contract);
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const answered = (async () => {
      await Promise.resolve(); // the callee never runs inside the caller's stack, as on a broker
      const { reply, internal } = await answerCall(responder.contract, responder.handler, contract.subject, wire, (message) => {
        if (!settled && onMessage) onMessage(parseStreamed(contract, message));
      });
      if (internal) this.log.error(internal);
      // the callee parsed its reply with this very schema, into objects of its own: not parsed a second time
      return reply.ok && responder.contract.reply === contract.reply ? { ...reply, parsed: true as const } : reply;
    })();
    this.track(answered);
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(busTimeout(contract, timeoutMs)), timeoutMs);
    });
    try {
      return await Promise.race([answered, expired]);
    } finally {
      settled = true;
      clearTimeout(timer);
    }
  }

  publish<E extends EventContract>(event: E, payload: PayloadOf<E>): void {
    if (this.closed) return;
    const parsed = event.payload.parse(payload);
    const subscribers = this.subscribers.get(event.subject) ?? [];
    const groups = new Map<string, Subscriber[]>();
    for (const subscriber of subscribers) {
      if (subscriber.queue === undefined) this.later(() => subscriber.deliver(parsed));
      else groups.set(subscriber.queue, [...(groups.get(subscriber.queue) ?? []), subscriber]);
    }
    for (const [queue, members] of groups) {
      const chosen = members[this.nextTurn(`${event.subject}#${queue}`, members.length)]!;
      this.later(() => chosen.deliver(parsed));
    }
  }

  subscribe<E extends EventContract>(event: E, handler: (payload: PayloadOf<E>) => void | Promise<void>, options: SubscribeOptions = {}): () => void {
    const subscriber: Subscriber = {
      queue: options.queue,
      deliver: (payload) => {
        const parsed = event.payload.safeParse(payload);
        if (!parsed.success) return;
        void Promise.resolve()
          .then(() => handler(parsed.data as PayloadOf<E>))
          .catch((error) => this.log.warn(`${event.name} handler failed: ${(error as Error).message}`));
      },
    };
    const list = this.subscribers.get(event.subject) ?? [];
    list.push(subscriber);
    this.subscribers.set(event.subject, list);
    return () => {
      const current = this.subscribers.get(event.subject) ?? [];
      this.subscribers.set(
        event.subject,
        current.filter((s) => s !== subscriber),
      );
    };
  }

  serve(contract: Contract, queueGroup: string, handler: ServeHandler): () => void {
    const groups = this.responders.get(contract.subject) ?? new Map<string, Responder[]>();
    const responder: Responder = { contract, handler };
    groups.set(queueGroup, [...(groups.get(queueGroup) ?? []), responder]);
    this.responders.set(contract.subject, groups);
    return () => {
      const members = (groups.get(queueGroup) ?? []).filter((r) => r !== responder);
      if (members.length) groups.set(queueGroup, members);
      else groups.delete(queueGroup);
    };
  }

  onReconnect(): void {
    // nothing to reconnect to: no event is ever lost in one process
  }

  isConnected(): boolean {
    return !this.closed;
  }

  async flush(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.allSettled([...this.pending]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.pending]);
    this.responders.clear();
    this.subscribers.clear();
  }

  /** One responder of the subject, round-robin within its (usually only) queue group. */
  private pick(groups: Map<string, Responder[]> | undefined): Responder | undefined {
    if (!groups || groups.size === 0) return undefined;
    const [queue, members] = groups.entries().next().value as [string, Responder[]];
    return members[this.nextTurn(queue + '#' + members[0]!.contract.subject, members.length)];
  }

  private nextTurn(key: string, size: number): number {
    const turn = this.turns.get(key) ?? 0;
    this.turns.set(key, turn + 1);
    return turn % size;
  }

  private later(run: () => void): void {
    this.track(Promise.resolve().then(run));
  }

  private track(promise: Promise<unknown>): void {
    const settled = promise.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(settled);
    void settled.then(() => this.pending.delete(settled));
  }
}
