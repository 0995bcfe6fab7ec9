import { AsyncResource } from 'node:async_hooks';
import type { LookupFunction, Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import { LeanHttpClient, type LeanExchange, type LeanResponse } from './lean-http.js';
import { currentRequestHeaders } from './request-context.js';
import { SseParser } from './sse-parser.js';

/** The upstream answered 404 for our session id: the pool re-initializes once and retries the request. */
export class SessionExpiredError extends Error {
  constructor(readonly sessionId: string) {
    super(`upstream session ${sessionId} has expired`);
    this.name = 'SessionExpiredError';
  }
}

/** The upstream answered an HTTP error status instead of a JSON-RPC message. */
export class UpstreamHttpError extends Error {
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`upstream answered HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''}`);
    this.name = 'UpstreamHttpError';
  }
}

export interface HttpTransportOptions {
  /** Sent with every request (auth_type and static_headers); per-call headers come from the request context. */
  headers?: Record<string, string>;
  /** Opens the GET stream for server-initiated notifications (list_changed) after initialization. */
  openNotificationStream?: boolean;
  /** Resolves the host for every new connection (the connector's address check: UpstreamUrlGuard.lookup). */
  lookup?: LookupFunction;
  /** Extra TLS options for an https upstream (tests trust their own CA); certificates are always verified. */
  tls?: ConnectionOptions;
  onDebug?: (message: string) => void;
}

const STREAM_RETRY_MS = 2_000;
const POST_HEADERS: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const STREAM_HEADERS: Record<string, string> = { accept: 'text/event-stream' };

/**
 * Streamable HTTP client transport for pooled, long-lived sessions. Each JSON-RPC message is one POST over a
 * keep-alive connection of its own lean client (lean-http.ts: under half of node:http's CPU per request); no
 * AbortSignal is shared across requests (the SDK's transport leaks one listener per request on its session-wide
 * signal). Answers may be `application/json` or `text/event-stream`.
 */
export class StreamableHttpTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  sessionId?: string;

  private protocolVersion: string | undefined;
  private readonly client: LeanHttpClient;
  private readonly path: string;
  private readonly inflight = new Map<string | number, LeanExchange>();
  private stream: LeanExchange | undefined;
  private streamTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly url: URL,
    private readonly options: HttpTransportOptions = {},
  ) {
    this.client = new LeanHttpClient(url, { maxSockets: 256, keepAliveMsecs: 10_000, lookup: options.lookup, tls: options.tls });
    this.path = url.pathname + url.search;
  }

  async start(): Promise<void> {
    if (this.closed) throw new Error('transport is closed');
  }

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
  }

  /** Requests currently waiting for their answer (tests check this drains). */
  get pendingRequests(): number {
    return this.inflight.size;
  }

  /** The open connections to the upstream (tests count their listeners). */
  get sockets(): Socket[] {
    return this.client.sockets;
  }

  async send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    if (this.closed) throw new Error('Not connected');
    const isRequest = 'method' in message && 'id' in message;
    const isInitialize = isRequest && message.method === 'initialize';
    const body = JSON.stringify(message);
    const sentSession = this.sessionId;
    try {
      const res = await this.post(body, isRequest ? (message.id as string | number) : undefined);
      if (res.status === 404 && sentSession !== undefined) {
        res.discard();
        throw new SessionExpiredError(sentSession);
      }
      if (res.status >= 400) {
        throw new UpstreamHttpError(res.status, await res.text().catch(() => ''));
      }
      if (isInitialize) {
        const sid = res.headers['mcp-session-id'];
        if (sid) this.sessionId = sid;
      }
      const type = res.headers['content-type'] ?? '';
      if (res.status === 202 || !isRequest) {
        // a notification or response was accepted; some servers still send a body
        if (type.includes('text/event-stream')) await this.consumeSse(res);
        else res.discard();
      } else if (type.includes('text/event-stream')) {
        await this.consumeSse(res);
      } else if (type.includes('application/json')) {
        const text = await res.text();
        if (text.trim()) this.deliver(JSON.parse(text));
      } else {
        res.discard();
        throw new UpstreamHttpError(res.status, `unexpected content type "${type}"`);
      }
    } finally {
      if (isRequest) this.inflight.delete(message.id as string | number);
    }
    if ('method' in message && message.method === 'notifications/initialized' && this.options.openNotificationStream) {
      this.openStream();
    }
    if ('method' in message && message.method === 'notifications/cancelled') {
      // the SDK gave up on this request (timeout): stop waiting for its answer
      const id = (message.params as { requestId?: string | number } | undefined)?.requestId;
      if (id !== undefined) this.inflight.get(id)?.destroy(new Error('request cancelled'));
    }
  }

  /**
   * One request as an exchange of its own (MCP 2026-07-28: no session, the version and method in headers): every
   * message of the answer, JSON or an event stream, goes to `onMessage`, in order; resolves when the answer ends.
   */
  async exchange(message: JSONRPCRequest, headers: Record<string, string>, onMessage: (message: JSONRPCMessage) => void): Promise<void> {
    if (this.closed) throw new Error('Not connected');
    try {
      const res = await this.post(JSON.stringify(message), message.id, headers);
      if (res.status >= 400) {
        const body = await res.text().catch(() => '');
        // a JSON-RPC error with an HTTP error status (the revision's header and version errors) is still an answer
        const answer = parseJson(body);
        if (answer && typeof answer === 'object' && 'error' in answer) return onMessage(answer as JSONRPCMessage);
        throw new UpstreamHttpError(res.status, body);
      }
      const type = res.headers['content-type'] ?? '';
      if (type.includes('text/event-stream')) await this.consumeSse(res, onMessage);
      else if (type.includes('application/json')) {
        const text = await res.text();
        for (const item of [JSON.parse(text)].flat()) onMessage(item as JSONRPCMessage);
      } else {
        res.discard();
        throw new UpstreamHttpError(res.status, `unexpected content type "${type}"`);
      }
    } finally {
      this.inflight.delete(message.id);
    }
  }

  /** Abandons a request still waiting for its answer (its caller gave up). */
  abort(requestId: string | number): void {
    this.inflight.get(requestId)?.destroy(new Error('request cancelled'));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.streamTimer) clearTimeout(this.streamTimer);
    this.stream?.destroy();
    for (const req of this.inflight.values()) req.destroy(new Error('transport closed'));
    this.inflight.clear();
    const sessionId = this.sessionId;
    if (sessionId) {
      // best effort: tell the upstream the session is over (within a second)
      let timer: NodeJS.Timeout | undefined;
      try {
        const req = this.client.request('DELETE', this.path, this.headers(true));
        timer = setTimeout(() => req.destroy(), 1_000);
        await (await req.response).text();
      } catch {
        // unreachable, slow or refused: the upstream forgets the session on its own
      } finally {
        clearTimeout(timer);
      }
    }
    this.client.destroy();
    this.onclose?.();
  }

  /**
   * Server-level headers, then the current call's forwarded headers (unless `ownOnly`), then the transport's own
   * and the request's (each overriding the ones before), then the session's.
   */
  private headers(ownOnly: boolean, own?: Record<string, string>, extra?: Record<string, string>): Record<string, string> {
    // copied by loops: object spreads of these cost ~40 times as much here (µs per request)
    const headers: Record<string, string> = {};
    const sources = [this.options.headers, ownOnly ? undefined : currentRequestHeaders(), own, extra];
    for (const source of sources) if (source) for (const name in source) headers[name] = source[name]!;
    if (this.sessionId) headers['mcp-session-id'] = this.sessionId;
    if (this.protocolVersion) headers['mcp-protocol-version'] = this.protocolVersion;
    return headers;
  }

  /**
   * One POST; its answer's head. A kept-alive connection the upstream closed while idle is retried once on a new
   * one by the client (the request was not read). `abort` and `close` find it in `inflight` by its id.
   */
  private post(body: string, requestId: string | number | undefined, extraHeaders?: Record<string, string>): Promise<LeanResponse> {
    const headers = this.headers(false, POST_HEADERS, extraHeaders);
    const exchange = this.client.request('POST', this.path, headers, body);
    if (requestId !== undefined) this.inflight.set(requestId, exchange);
    return exchange.response;
  }

  private async consumeSse(res: LeanResponse, onMessage?: (message: JSONRPCMessage) => void): Promise<void> {
    const parser = new SseParser((event) => {
      if (event.event !== 'message' || !event.data) return;
      try {
        const payload = JSON.parse(event.data) as unknown;
        if (onMessage) for (const item of [payload].flat()) onMessage(item as JSONRPCMessage);
        else this.deliver(payload);
      } catch (error) {
        this.onerror?.(error as Error);
      }
    });
    // bound to the sender's async context: what arrives on a request's stream (a server's request during a call) is
    // handled in the context of the call that sent it, not in that of whichever request opened the pooled socket
    await res.stream(AsyncResource.bind((text: string) => parser.push(text)));
    parser.end();
  }

  private deliver(payload: unknown): void {
    const messages = Array.isArray(payload) ? payload : [payload];
    for (const message of messages) this.onmessage?.(message as JSONRPCMessage);
  }

  /** The optional GET stream on which the upstream sends notifications not tied to a request. */
  private openStream(): void {
    if (this.closed || this.stream || !this.sessionId) return;
    let req: LeanExchange;
    try {
      req = this.client.request('GET', this.path, this.headers(true, STREAM_HEADERS));
    } catch (error) {
      this.options.onDebug?.(`notification stream not opened: ${(error as Error).message}`);
      return;
    }
    this.stream = req;
    req.response.then(
      (res) => {
        if (res.status !== 200 || !(res.headers['content-type'] ?? '').includes('text/event-stream')) {
          // 405: the server offers no stream; 404: the session is gone (the next POST finds out too)
          this.options.onDebug?.(`notification stream not available (HTTP ${res.status})`);
          res.discard();
          if (this.stream === req) this.stream = undefined;
          return;
        }
        this.consumeSse(res)
          .catch(() => undefined)
          .finally(() => this.reopenStreamLater(req));
      },
      () => this.reopenStreamLater(req),
    );
  }

  private reopenStreamLater(req: LeanExchange): void {
    if (this.stream !== req) return;
    this.stream = undefined;
    if (this.closed) return;
    this.streamTimer = setTimeout(() => this.openStream(), STREAM_RETRY_MS);
    this.streamTimer.unref();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
