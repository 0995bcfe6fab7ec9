import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
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
  onDebug?: (message: string) => void;
}

const STREAM_RETRY_MS = 2_000;

/**
 * Streamable HTTP client transport for pooled, long-lived sessions. Each JSON-RPC message is one POST over a
 * keep-alive agent; no AbortSignal is shared across requests (the SDK's transport leaks one listener per
 * request on its session-wide signal). Answers may be `application/json` or `text/event-stream`.
 */
export class StreamableHttpTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  sessionId?: string;

  private protocolVersion: string | undefined;
  private readonly agent: http.Agent;
  private readonly lib: typeof http | typeof https;
  private readonly inflight = new Map<string | number, ClientRequest>();
  private stream: ClientRequest | undefined;
  private streamTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly url: URL,
    private readonly options: HttpTransportOptions = {},
  ) {
    const secure = url.protocol === 'https:';
    this.lib = secure ? https : http;
    this.agent = new this.lib.Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 10_000, ...(options.lookup ? { lookup: options.lookup } : {}) });
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

  get httpAgent(): http.Agent {
    return this.agent;
  }

  async send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    if (this.closed) throw new Error('Not connected');
    const isRequest = 'method' in message && 'id' in message;
    const isInitialize = isRequest && message.method === 'initialize';
    const body = JSON.stringify(message);
    const sentSession = this.sessionId;
    const res = await this.post(body, isRequest ? (message.id as string | number) : undefined);
    try {
      if (res.statusCode === 404 && sentSession !== undefined) {
        res.resume();
        throw new SessionExpiredError(sentSession);
      }
      if (!res.statusCode || res.statusCode >= 400) {
        throw new UpstreamHttpError(res.statusCode ?? 0, await readBody(res).catch(() => ''));
      }
      if (isInitialize) {
        const sid = res.headers['mcp-session-id'];
        if (typeof sid === 'string' && sid) this.sessionId = sid;
      }
      const type = String(res.headers['content-type'] ?? '');
      if (res.statusCode === 202 || !isRequest) {
        // a notification or response was accepted; some servers still send a body
        if (type.includes('text/event-stream')) await this.consumeSse(res);
        else res.resume();
      } else if (type.includes('text/event-stream')) {
        await this.consumeSse(res);
      } else if (type.includes('application/json')) {
        const text = await readBody(res);
        if (text.trim()) this.deliver(JSON.parse(text));
      } else {
        res.resume();
        throw new UpstreamHttpError(res.statusCode, `unexpected content type "${type}"`);
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
    const res = await this.post(JSON.stringify(message), message.id, false, headers);
    try {
      if (!res.statusCode || res.statusCode >= 400) {
        const body = await readBody(res).catch(() => '');
        // a JSON-RPC error with an HTTP error status (the revision's header and version errors) is still an answer
        const answer = parseJson(body);
        if (answer && typeof answer === 'object' && 'error' in answer) return onMessage(answer as JSONRPCMessage);
        throw new UpstreamHttpError(res.statusCode ?? 0, body);
      }
      const type = String(res.headers['content-type'] ?? '');
      if (type.includes('text/event-stream')) await this.consumeSse(res, onMessage);
      else if (type.includes('application/json')) {
        const text = await readBody(res);
        for (const item of [JSON.parse(text)].flat()) onMessage(item as JSONRPCMessage);
      } else {
        res.resume();
        throw new UpstreamHttpError(res.statusCode, `unexpected content type "${type}"`);
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
      // best effort: tell the upstream the session is over
      await new Promise<void>((resolve) => {
        const req = this.lib.request(this.url, { method: 'DELETE', agent: this.agent, headers: this.headers(undefined, true), timeout: 1_000 }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', () => resolve());
        req.on('timeout', () => req.destroy());
        req.end();
      });
    }
    this.agent.destroy();
    this.onclose?.();
  }

  /** Server-level headers, then the current call's forwarded headers (unless `ownOnly`), then transport headers. */
  private headers(extra?: Record<string, string>, ownOnly = false): Record<string, string> {
    const headers: Record<string, string> = { ...this.options.headers, ...(ownOnly ? undefined : currentRequestHeaders()), ...extra };
    if (this.sessionId) headers['mcp-session-id'] = this.sessionId;
    if (this.protocolVersion) headers['mcp-protocol-version'] = this.protocolVersion;
    return headers;
  }

  private post(body: string, requestId: string | number | undefined, retried = false, extraHeaders?: Record<string, string>): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = this.lib.request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: this.headers({
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'content-length': String(Buffer.byteLength(body)),
            ...extraHeaders,
          }),
        },
        resolve,
      );
      req.once('error', (error: NodeJS.ErrnoException) => {
        // a kept-alive socket the upstream closed while idle fails before the request was read: one fresh try
        if (!retried && req.reusedSocket && error.code === 'ECONNRESET' && !this.closed) {
          this.post(body, requestId, true, extraHeaders).then(resolve, reject);
        } else {
          reject(error);
        }
      });
      if (requestId !== undefined) this.inflight.set(requestId, req);
      req.end(body);
    });
  }

  private consumeSse(res: IncomingMessage, onMessage?: (message: JSONRPCMessage) => void): Promise<void> {
    return new Promise((resolve, reject) => {
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
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => parser.push(chunk));
      res.once('end', () => {
        parser.end();
        resolve();
      });
      res.once('error', reject);
      res.once('aborted', () => reject(new Error('upstream closed the response stream')));
    });
  }

  private deliver(payload: unknown): void {
    const messages = Array.isArray(payload) ? payload : [payload];
    for (const message of messages) this.onmessage?.(message as JSONRPCMessage);
  }

  /** The optional GET stream on which the upstream sends notifications not tied to a request. */
  private openStream(): void {
    if (this.closed || this.stream || !this.sessionId) return;
    const req = this.lib.request(this.url, { method: 'GET', agent: this.agent, headers: this.headers({ accept: 'text/event-stream' }, true) }, (res) => {
      if (res.statusCode !== 200 || !String(res.headers['content-type'] ?? '').includes('text/event-stream')) {
        // 405: the server offers no stream; 404: the session is gone (the next POST finds out too)
        this.options.onDebug?.(`notification stream not available (HTTP ${res.statusCode})`);
        res.resume();
        this.stream = undefined;
        return;
      }
      this.consumeSse(res)
        .catch(() => undefined)
        .finally(() => this.reopenStreamLater(req));
    });
    req.on('error', () => this.reopenStreamLater(req));
    this.stream = req;
    req.end();
  }

  private reopenStreamLater(req: ClientRequest): void {
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

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', reject);
    res.once('aborted', () => reject(new Error('upstream closed the response')));
  });
}
