import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Cancellation } from './cancellation.js';

const ID_PREFIX = 'sb-';

export interface DirectRequestOptions {
  timeout: number;
  cancellation?: Cancellation;
}

interface Pending {
  resolve: (result: Record<string, unknown>) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
  stopListening: (() => void) | undefined;
}

/**
 * Requests on a connected 2025-revision session sent straight through its transport, beside the SDK's `Client`
 * (which keeps the handshake, the upstream's requests and notifications). The forwarded calls' results are passed
 * on as they are, so what the SDK's `Protocol.request` adds per request is not needed here: a schema parse of each
 * message and of each result, an entry in several maps. The behaviour is the SDK's: a timeout or an abort sends
 * `notifications/cancelled` and rejects (a timeout with the SDK's RequestTimeout error and `{ timeout }` as data),
 * a JSON-RPC error rejects with `McpError.fromError`, a closed transport rejects with ConnectionClosed.
 *
 * Ids are strings of our own (`sb-1`, ...), so they never meet the SDK's numeric ones on the same session.
 */
export class DirectRequests {
  private readonly pending = new Map<string, Pending>();
  private seq = 0;
  private closed = false;

  /** Call once the SDK's client is connected to `transport` (it has set the transport's callbacks by then). */
  constructor(private readonly transport: Transport) {
    const forward = transport.onmessage;
    transport.onmessage = (message, extra) => {
      if (!this.settle(message)) forward?.(message, extra);
    };
    const closed = transport.onclose;
    transport.onclose = () => {
      this.failAll(new McpError(ErrorCode.ConnectionClosed, 'Connection closed'));
      closed?.();
    };
  }

  /** Requests in flight (tests check this drains). */
  get inFlight(): number {
    return this.pending.size;
  }

  request(method: string, params: Record<string, unknown> | undefined, options: DirectRequestOptions): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new McpError(ErrorCode.ConnectionClosed, 'Connection closed'));
    const { cancellation } = options;
    if (cancellation?.aborted) return Promise.reject(cancelledError(cancellation.reason));
    const id = `${ID_PREFIX}${++this.seq}`;
    return new Promise((resolve, reject) => {
      const timeout = options.timeout;
      const pending: Pending = {
        resolve,
        reject,
        timer: setTimeout(() => this.cancel(id, new McpError(ErrorCode.RequestTimeout, 'Request timed out', { timeout })), timeout),
        stopListening: cancellation?.onAbort((reason) => this.cancel(id, reason)),
      };
      this.pending.set(id, pending);
      const message = { jsonrpc: '2.0', id, method, ...(params ? { params } : {}) } as JSONRPCMessage;
      this.transport.send(message).catch((error: unknown) => {
        if (this.forget(id)) reject(error);
      });
    });
  }

  /** Takes an answer to one of our requests; false for every other message (the SDK's). */
  private settle(message: JSONRPCMessage): boolean {
    if ('method' in message || !('id' in message) || typeof message.id !== 'string' || !message.id.startsWith(ID_PREFIX)) return false;
    const pending = this.forget(message.id);
    if (!pending) return true; // a late answer to a request given up on
    if ('error' in message) {
      const { code, message: text, data } = message.error;
      pending.reject(McpError.fromError(code, text, data));
    } else if ('result' in message) {
      pending.resolve(message.result as Record<string, unknown>);
    }
    return true;
  }

  /** Gives up on a request: the upstream is told (best effort), the caller gets `reason`. */
  private cancel(id: string, reason: unknown): void {
    const pending = this.forget(id);
    if (!pending) return;
    this.transport
      .send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: String(reason) } })
      .catch(() => undefined); // the transport is gone: nothing to tell
    pending.reject(cancelledError(reason));
  }

  private forget(id: string): Pending | undefined {
    const pending = this.pending.get(id);
    if (!pending) return undefined;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    pending.stopListening?.();
    return pending;
  }

  private failAll(error: McpError): void {
    this.closed = true;
    for (const id of [...this.pending.keys()]) this.forget(id)!.reject(error);
  }
}

/** What a cancelled request rejects with, as the SDK's: the reason if it is an McpError, else RequestTimeout. */
function cancelledError(reason: unknown): McpError {
  return reason instanceof McpError ? reason : new McpError(ErrorCode.RequestTimeout, String(reason));
}
