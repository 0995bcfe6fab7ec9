import type { Contract, EventContract, PayloadOf, ReplyOf, RequestMeta, RequestOf } from '#libs/contracts';
import { currentRequestId, currentTraceparent, inSpan, Metrics, SpanKind } from '#libs/observability';
import { settleReply, wireMeta, type WireReply, type WireRequest } from './wire.js';

export interface CallOptions {
  /** How long to wait for the reply. Required in spirit: every call has a deadline. */
  timeoutMs: number;
  /** The caller's own deadline (epoch ms): the call never waits past it, and the callee learns it. */
  deadline?: number;
  traceparent?: string;
  /**
   * Receives the messages the callee streams before its reply (progress, logs, server-to-client requests),
   * in order, each parsed with the contract's `message` schema. Without it, streamed messages are dropped.
   */
  onMessage?: (message: unknown) => void;
}

export interface SubscribeOptions {
  /**
   * Consumers sharing a queue group share the events: each event reaches one of them (e.g. the audit writer,
   * whatever the number of auth replicas). Without it every subscriber receives every event.
   */
  queue?: string;
}

/** What a served handler learns about its call besides the data. */
export interface ServeContext {
  subject: string;
  meta: RequestMeta;
  /** Streams one message to the caller ahead of the reply (parsed with the contract's `message` schema). */
  send(message: unknown): void;
}

/** Serves one contract: gets the parsed request, returns the reply (parsed by the bus before it is sent). */
export type ServeHandler = (data: unknown, context: ServeContext) => Promise<unknown>;

/**
 * The only way services talk: typed request-reply with deadlines and streamed replies, broadcast and queued
 * events. Implemented over NATS (NatsBus, the distributed suite) and inside one process (InProcessBus, the
 * default); both pass the same contract suite (bus.contract.ts). It is also the Nest injection token.
 */
export abstract class Bus {
  /** 'nats' or 'in-process': shown in health checks and the start-up line. */
  abstract readonly kind: 'nats' | 'in-process';

  /**
   * Calls `contract` and returns its parsed reply, or throws the callee's DomainError. The same on every bus:
   * whoever receives a message parses it (the callee the request, the caller the reply; a bad request comes back
   * as the callee's INVALID_ARGUMENT), the deadline, trace and request id travel in the meta, and the call is
   * measured (switchboard_bus_request_duration_seconds) and traced (a client span).
   */
  async call<C extends Contract>(contract: C, request: RequestOf<C>, options: CallOptions): Promise<ReplyOf<C>> {
    const started = process.hrtime.bigint();
    let outcome = 'ok';
    try {
      return await inSpan(`bus ${contract.name}`, SpanKind.CLIENT, { 'messaging.destination.name': contract.subject }, async () => {
        const requestId = currentRequestId();
        const { meta, timeout } = wireMeta(options.timeoutMs, options.deadline, options.traceparent ?? currentTraceparent());
        if (requestId) meta.request_id = requestId;
        return settleReply<ReplyOf<C>>(contract, await this.send(contract, { meta, data: request }, timeout, options.onMessage));
      });
    } catch (error) {
      outcome = (error as { code?: string }).code ?? 'INTERNAL';
      throw error;
    } finally {
      Metrics.busRequestDuration.observe({ contract: contract.name, outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /**
   * Delivers one parsed request and resolves with the callee's reply envelope; throws a DomainError for what the
   * transport itself decides (no responders, timeout, broken connection). Streamed messages go to `onMessage`.
   */
  protected abstract send(contract: Contract, wire: WireRequest, timeoutMs: number, onMessage: ((message: unknown) => void) | undefined): Promise<WireReply>;

  abstract publish<E extends EventContract>(event: E, payload: PayloadOf<E>): void;

  /** The largest event body (JSON bytes) `publish` sends; a larger one is refused (logged, not sent). */
  get maxEventBytes(): number {
    return Infinity;
  }

  /** Malformed events are dropped; a handler's failure never reaches the publisher. Returns the unsubscribe. */
  abstract subscribe<E extends EventContract>(event: E, handler: (payload: PayloadOf<E>) => void | Promise<void>, options?: SubscribeOptions): () => void;

  /** Answers `contract` with `handler`; replicas sharing `queueGroup` share the calls. Returns the stop function. */
  abstract serve(contract: Contract, queueGroup: string, handler: ServeHandler): () => void;

  /**
   * Calls `listener` after every reconnection to the broker. Events published while this process was
   * disconnected are lost, so caches kept fresh by events must be dropped here.
   */
  abstract onReconnect(listener: () => void): void;

  /** False while the connection to the broker is closed (health checks). */
  abstract isConnected(): boolean;

  /** Waits until every message published so far has been delivered to the broker (tests, shutdown). */
  abstract flush(): Promise<void>;

  abstract close(): Promise<void>;
}
