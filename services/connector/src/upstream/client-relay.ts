import { Logger } from '@nestjs/common';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { ErrorCode, McpError, type ClientNotification, type ClientRequest, type JSONRPCNotification, type JSONRPCRequest, type Notification, type Request } from '@modelcontextprotocol/sdk/types.js';
import { Bus } from '#libs/bus';
import { clientRequestId, sessionStreamEvent, type StreamedClientMessage } from '#libs/contracts';

/** A forwarded call in flight on an upstream session: where what the upstream sends during it goes. */
export interface CallStream {
  /** The client session the call came from. */
  sessionId: string;
  send(message: StreamedClientMessage): void;
  /**
   * Set for a 2026-07-28 client's call (ModernCall): such a client takes no requests, so the upstream's requests
   * are handed to the call, which returns them to the client as `input_required`; `withdraw` when one is void.
   */
  ask?(id: string, request: { method: string; params?: Record<string, unknown> }): void;
  withdraw?(id: string): void;
}

/** How long a client may take to answer a sampling, elicitation or roots request (the upstream may cancel sooner). */
const CLIENT_ANSWER_TIMEOUT_MS = 5 * 60_000;

interface PendingClientRequest {
  sessionId: string;
  resolve: (result: Record<string, unknown>) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Server-to-client traffic of the upstream sessions in this connector instance. An upstream's request (sampling,
 * elicitation, roots) gets a client-facing id naming this instance (`sb-{instance}-{n}`) and goes to the client:
 * streamed on the call in flight that caused it, else to the client session's stream (its own subject, held by one
 * edge replica). The client's answer reaches this instance by its id (ClientResponse on the instance's subject),
 * whichever edge received it, and settles the waiting upstream request.
 */
export class ClientRelay {
  private readonly log = new Logger(ClientRelay.name);
  private readonly pending = new Map<string, PendingClientRequest>();
  private next = 0;

  constructor(
    readonly instance: string,
    private readonly bus: Bus,
  ) {}

  /**
   * Relays an upstream's request to the client session `sessionId` and resolves with the client's result.
   * `via` is the call in flight that caused it, if any.
   */
  request(sessionId: string, via: CallStream | undefined, request: Request, extra: Pick<RequestHandlerExtra<ClientRequest, ClientNotification>, 'signal'>): Promise<Record<string, unknown>> {
    const id = clientRequestId(this.instance, ++this.next);
    const message = { jsonrpc: '2.0' as const, id, method: request.method, ...(request.params ? { params: request.params } : {}) } as JSONRPCRequest;
    return new Promise((resolve, reject) => {
      const settle = () => {
        clearTimeout(entry.timer);
        this.pending.delete(id);
        extra.signal.removeEventListener('abort', onAbort);
        via?.withdraw?.(id);
      };
      const entry: PendingClientRequest = {
        sessionId,
        resolve: (result) => {
          settle();
          resolve(result);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
        timer: setTimeout(() => entry.reject(new McpError(ErrorCode.RequestTimeout, `the client did not answer ${request.method} in time`)), CLIENT_ANSWER_TIMEOUT_MS),
      };
      const onAbort = () => {
        entry.reject(new McpError(ErrorCode.RequestTimeout, `${request.method} was cancelled by the upstream`));
        // tell the client to stop waiting too
        if (!via?.ask) this.toClient(sessionId, via, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'cancelled by the server' } });
      };
      extra.signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, entry);
      if (via?.ask) via.ask(id, { method: request.method, ...(request.params ? { params: request.params as Record<string, unknown> } : {}) });
      else this.toClient(sessionId, via, message);
    });
  }

  /** A notification from the upstream for the client (logs, resource updates, …). */
  notify(sessionId: string, via: CallStream | undefined, notification: Notification): void {
    this.toClient(sessionId, via, { jsonrpc: '2.0', method: notification.method, ...(notification.params ? { params: notification.params } : {}) } as JSONRPCNotification);
  }

  /** The client answered one of our requests; false when nothing waits for it (answered twice, timed out, wrong session). */
  deliver(sessionId: string, response: { id: string | number; result?: unknown; error?: { code?: number; message?: string; data?: unknown } }): boolean {
    const entry = this.pending.get(String(response.id));
    if (!entry || entry.sessionId !== sessionId) return false;
    if (response.error) entry.reject(new McpError(response.error.code ?? ErrorCode.InternalError, response.error.message ?? 'client error', response.error.data));
    else entry.resolve((response.result ?? {}) as Record<string, unknown>);
    return true;
  }

  /** True while a request to this client session waits for its answer (an upstream waiting on it is not slow). */
  waitingOn(sessionId: string): boolean {
    for (const entry of this.pending.values()) if (entry.sessionId === sessionId) return true;
    return false;
  }

  /** Fails what still waits for a client session (it ended, or its upstream session closed). */
  abandon(sessionId: string): void {
    for (const entry of [...this.pending.values()]) {
      if (entry.sessionId === sessionId) entry.reject(new McpError(ErrorCode.ConnectionClosed, 'the client session ended'));
    }
  }

  close(): void {
    for (const entry of [...this.pending.values()]) entry.reject(new McpError(ErrorCode.ConnectionClosed, 'connector is shutting down'));
  }

  private toClient(sessionId: string, via: CallStream | undefined, message: JSONRPCRequest | JSONRPCNotification): void {
    if (via) {
      try {
        via.send({ message });
        return;
      } catch (error) {
        // the call has already been answered: fall back to the session's stream
        this.log.debug(`call stream closed (${(error as Error).message}); using the session stream`);
      }
    }
    this.bus.publish(sessionStreamEvent(sessionId), { message: JSON.stringify(message) });
  }
}
