import { Inject, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Bus } from '#libs/bus';
import { clientNotificationContract, clientResponseContract, instanceOfClientRequestId, UpstreamCancelled, type Principal } from '#libs/contracts';
import { PrincipalService } from '../auth/principal.service.js';
import { UsageLimiter, type Release } from '../auth/usage-limiter.js';
import { EDGE_SETTINGS, type EdgeSettings } from '../edge-settings.js';
import { HttpProblem } from '../http/http-problem.js';
import { readJsonBody } from '../http/json-body.js';
import type { OriginPolicy } from '../http/origin.js';
import { ORIGIN_POLICY } from '../tokens.js';
import { JsonText, type Json } from './json-text.js';
import { classify, errorJson, JsonRpcErrorCode, resultJson, type ClassifiedMessage, type JsonRpcRequest } from './jsonrpc.js';
import { McpDispatcher, type McpScope, type RequestExtra } from './mcp.dispatcher.js';
import { writeMcpError } from './mcp-errors.js';
import { admitModernRequest, isModernTraffic, MODERN_METHODS, ModernRejection, modernReplyStatus } from './modern.js';
import { NotificationStreams } from './notification-streams.js';
import { postStreamIdPrefix } from './post-stream.js';
import { retryIdempotent } from '../resilience/retry.js';
import { isSupportedProtocolHeader, negotiateProtocolVersion } from './protocol.js';
import { SessionStore, type McpSession } from './session.store.js';
import { LISTEN_METHOD, SubscriptionListeners } from './subscriptions.js';

const SESSION_HEADER = 'mcp-session-id';
/** Above this many characters a JSON reply is turned into bytes before it is written (see PostResponder.finish). */
const LARGE_REPLY_CHARS = 64 * 1024;

/**
 * MCP's Streamable HTTP transport (2025-03-26 to 2025-11-25) implemented directly: sessions in Redis instead of
 * per-process transport objects, so any replica serves any session, and responses as JSON written once.
 */
@Injectable()
export class StreamableHttpService {
  private readonly log = new Logger(StreamableHttpService.name);
  private readonly bodyLimit: number;

  constructor(
    @Inject(EDGE_SETTINGS) settings: EdgeSettings,
    @Inject(ORIGIN_POLICY) private readonly origins: OriginPolicy,
    @Inject(PrincipalService) private readonly principals: PrincipalService,
    @Inject(SessionStore) private readonly sessions: SessionStore,
    @Inject(McpDispatcher) private readonly dispatcher: McpDispatcher,
    @Inject(NotificationStreams) private readonly streams: NotificationStreams,
    @Inject(UsageLimiter) private readonly limits: UsageLimiter,
    @Inject(Bus) private readonly bus: Bus,
    @Inject(SubscriptionListeners) private readonly listeners: SubscriptionListeners,
  ) {
    this.bodyLimit = settings.env.MAX_REQUEST_BODY_BYTES;
  }

  async post(req: IncomingMessage, res: ServerResponse, scope: McpScope): Promise<void> {
    try {
      this.origins.check(req.headers.origin);
      const principal = await this.principals.authenticate(req.headers);
      await this.limits.countRequest(principal); // every authenticated request counts once against rpm_limit
      const body = await readJsonBody(req, this.bodyLimit, { jsonRpc: true });
      // 2026-07-28 traffic is told by the body (its _meta names a revision), with the header as a cross-check
      if (isModernTraffic(body, req.headers)) return await this.postModern(body, req, res, scope, principal);
      if (!isSupportedProtocolHeader(req.headers['mcp-protocol-version'] as string | undefined)) {
        throw new HttpProblem(400, `Unsupported MCP-Protocol-Version: ${req.headers['mcp-protocol-version']}`, JsonRpcErrorCode.INVALID_REQUEST);
      }
      const batch = Array.isArray(body);
      const messages = batch ? (body as unknown[]) : [body];
      if (messages.length === 0) throw new HttpProblem(400, 'empty batch', JsonRpcErrorCode.INVALID_REQUEST);
      const classified = messages.map(classify);

      const initialize = classified.find((m) => m.kind === 'request' && m.message.method === 'initialize');
      if (initialize) {
        if (messages.length > 1) throw new HttpProblem(400, 'initialize must be sent on its own', JsonRpcErrorCode.INVALID_REQUEST);
        return await this.initialize((initialize as { message: JsonRpcRequest }).message, req, res, scope, principal);
      }
      if (!batch && classified[0]!.kind === 'invalid') {
        const invalid = classified[0] as { id: string | number | null; reason: string };
        throw new HttpProblem(400, `Invalid Request: ${invalid.reason}`, JsonRpcErrorCode.INVALID_REQUEST);
      }
      const session = await this.requireSession(req, scope, principal);
      // The client's answers to server-to-client requests, and its cancellations, go where they are awaited.
      for (const message of classified) this.routeClientMessage(session, message);

      if (!classified.some((m) => m.kind !== 'notification' && m.kind !== 'response')) {
        res.writeHead(202).end();
        return;
      }
      // Requests that do work hold a max_parallel_requests slot; over the limit, the whole request gets 429.
      let release: Release;
      try {
        release = await this.limits.admit(principal);
      } catch (error) {
        const only = !batch && classified[0]!.kind === 'request' ? (classified[0] as { message: JsonRpcRequest }).message.id : null;
        return writeMcpError(res, error, only);
      }
      // a single request's stream ids name it, so a client resuming a lost stream is told its reply is lost
      const only = !batch && classified[0]!.kind === 'request' ? (classified[0] as { message: JsonRpcRequest }).message.id : undefined;
      const responder = new PostResponder(req, res, only === undefined ? undefined : postStreamIdPrefix(this.streams.instance, only));
      try {
        const texts = await Promise.all(
          classified.map((message) =>
            message.kind === 'request'
              ? this.dispatcher.respond(message.message, { principal, scope, headers: req.headers, session, requestId: message.message.id, extra: responder })
              : message.kind === 'invalid'
                ? errorJson(message.id, JsonRpcErrorCode.INVALID_REQUEST, `Invalid Request: ${message.reason}`)
                : null,
          ),
        );
        const replies = texts.filter((t): t is Json => t !== null);
        responder.finish(batch ? JsonText.concat(['[', ...replies.flatMap((reply, i) => (i ? [',', reply] : [reply])), ']']) : replies[0]!);
      } finally {
        release();
      }
    } catch (error) {
      writeMcpError(res, error);
    }
  }

  /**
   * One 2026-07-28 request: no session to look up, nothing stored; whichever replica receives it answers from
   * its catalog and the connectors' pooled upstream sessions. Rejections before dispatch carry the HTTP status
   * the revision names; everything after is an in-band JSON-RPC reply.
   */
  private async postModern(body: unknown, req: IncomingMessage, res: ServerResponse, scope: McpScope, principal: Principal): Promise<void> {
    let id: string | number | null = null;
    try {
      if (Array.isArray(body)) throw new ModernRejection(400, JsonRpcErrorCode.INVALID_REQUEST, 'Invalid Request: 2026-07-28 requests are not batched');
      const message = classify(body);
      if (message.kind === 'notification') {
        res.writeHead(202).end();
        return;
      }
      if (message.kind !== 'request') {
        throw new ModernRejection(400, JsonRpcErrorCode.INVALID_REQUEST, message.kind === 'invalid' ? `Invalid Request: ${message.reason}` : 'Invalid Request: expected a request');
      }
      const request = message.message;
      id = request.id;
      const envelope = admitModernRequest(request, req.headers);
      const listen = request.method === LISTEN_METHOD;
      if (!listen && !MODERN_METHODS.has(request.method)) {
        throw new ModernRejection(404, JsonRpcErrorCode.METHOD_NOT_FOUND, `Method not found: ${request.method} (not part of ${envelope.protocolVersion})`);
      }
      await this.dispatcher.assertScope(scope, principal, req.headers);
      const session: McpSession = {
        id: 'stateless',
        scope: scopeKey(scope),
        protocolVersion: envelope.protocolVersion,
        ownerHash: principal.token_hash,
        clientInfo: envelope.clientInfo,
        // what the client can answer (sampling, elicitation, roots): asked through input_required
        clientCapabilities: envelope.clientCapabilities,
        createdAt: Date.now(),
        stateless: true,
      };
      let release: Release;
      try {
        release = await this.limits.admit(principal);
      } catch (error) {
        return writeMcpError(res, error, id);
      }
      if (listen) {
        // a slot while the subscription is set up; an open stream is not work in progress
        try {
          return await this.listeners.open(request, { principal, scope, headers: req.headers, session, requestId: request.id }, req, res);
        } finally {
          release();
        }
      }
      const responder = new PostResponder(req, res);
      // progress and log messages go out on the response stream; the era has no server-to-client requests
      const extra: RequestExtra = { sendNotification: (n) => responder.sendNotification(n), sendRequest: () => undefined };
      try {
        const reply = await this.dispatcher.respondModern(request, { principal, scope, headers: req.headers, session, requestId: request.id, extra });
        responder.finish(reply, modernReplyStatus(reply));
      } finally {
        release();
      }
    } catch (error) {
      if (error instanceof ModernRejection) {
        res.writeHead(error.status, { 'content-type': 'application/json' });
        res.end(errorJson(id, error.code, error.message, error.data));
        return;
      }
      writeMcpError(res, error, id);
    }
  }

  async get(req: IncomingMessage, res: ServerResponse, scope: McpScope): Promise<void> {
    try {
      this.origins.check(req.headers.origin);
      const principal = await this.principals.authenticate(req.headers);
      await this.limits.countRequest(principal); // every authenticated request counts once against rpm_limit
      const session = await this.requireSession(req, scope, principal);
      if (!String(req.headers.accept ?? '').includes('text/event-stream')) {
        throw new HttpProblem(406, 'GET needs Accept: text/event-stream', JsonRpcErrorCode.INVALID_REQUEST);
      }
      const lastEventId = req.headers['last-event-id'];
      this.streams.open(session.id, res, { lastEventId: typeof lastEventId === 'string' ? lastEventId : undefined });
    } catch (error) {
      writeMcpError(res, error);
    }
  }

  async delete(req: IncomingMessage, res: ServerResponse, scope: McpScope): Promise<void> {
    try {
      this.origins.check(req.headers.origin);
      const principal = await this.principals.authenticate(req.headers);
      await this.limits.countRequest(principal); // every authenticated request counts once against rpm_limit
      const session = await this.requireSession(req, scope, principal);
      await this.sessions.end(session.id);
      this.streams.close(session.id);
      res.writeHead(200).end();
    } catch (error) {
      writeMcpError(res, error);
    }
  }

  private async initialize(request: JsonRpcRequest, req: IncomingMessage, res: ServerResponse, scope: McpScope, principal: Principal): Promise<void> {
    const params = request.params ?? {};
    await this.dispatcher.assertScope(scope, principal, req.headers);
    const protocolVersion = negotiateProtocolVersion(params.protocolVersion);
    const session = await this.sessions.create({
      scope: scopeKey(scope),
      protocolVersion,
      ownerHash: principal.token_hash,
      clientInfo: (params.clientInfo as Record<string, unknown>) ?? null,
      clientCapabilities: (params.capabilities as Record<string, unknown>) ?? {},
    });
    res.setHeader(SESSION_HEADER, session.id);
    this.writeMessage(req, res, 200, resultJson(request.id, await this.dispatcher.initializeResult(scope, protocolVersion)));
  }

  private async requireSession(req: IncomingMessage, scope: McpScope, principal: Principal): Promise<McpSession> {
    const id = req.headers[SESSION_HEADER];
    if (typeof id !== 'string' || !id) {
      throw new HttpProblem(400, 'Bad Request: Mcp-Session-Id header is required', JsonRpcErrorCode.INVALID_REQUEST);
    }
    const session = await this.sessions.get(id);
    // A session belongs to the endpoint and the key that opened it: to anyone else it does not exist.
    if (!session || session.scope !== scopeKey(scope) || session.ownerHash !== principal.token_hash) {
      throw new HttpProblem(404, 'Session not found', -32001);
    }
    return session;
  }

  /**
   * A message from the client that is not a request: its answer to a server-to-client request goes to the
   * connector instance named in the id (whichever replica holds the waiting upstream request); a cancellation
   * goes to the connectors, one of which runs the cancelled call.
   */
  routeClientMessage(session: McpSession, message: ClassifiedMessage): void {
    if (message.kind === 'response') {
      const instance = instanceOfClientRequestId(message.message.id);
      if (!instance) return;
      // delivered again if the bus or the instance was away for a moment (a second delivery finds nothing waiting)
      void retryIdempotent(() =>
        this.bus.call(clientResponseContract(instance), { session_id: session.id, response: message.message as unknown as { jsonrpc: '2.0'; id: string | number } }, { timeoutMs: 5_000 }),
      )
        .then(({ delivered }) => {
          if (!delivered) this.log.debug(`answer ${message.message.id} of session ${session.id} found nothing waiting`);
        })
        .catch((error: Error) => this.log.warn(`answer ${message.message.id} of session ${session.id} not delivered: ${error.message}`));
    } else if (message.kind === 'notification' && message.message.method === 'notifications/cancelled') {
      const requestId = message.message.params?.requestId;
      if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
      const reason = message.message.params?.reason;
      this.bus.publish(UpstreamCancelled, { session_id: session.id, request_id: requestId, ...(typeof reason === 'string' ? { reason } : {}) });
    } else if (message.kind === 'notification' && message.message.method === 'notifications/roots/list_changed') {
      // the client's roots changed: its own upstream sessions (on the instances recorded in the session) are told
      for (const instance of new Set(Object.values(session.upstreams ?? {}))) {
        void this.bus
          .call(clientNotificationContract(instance), { session_id: session.id, notification: { jsonrpc: '2.0', method: message.message.method } }, { timeoutMs: 10_000 })
          .catch((error: Error) => this.log.warn(`roots/list_changed of session ${session.id} not delivered to ${instance}: ${error.message}`));
      }
    }
  }

  /** JSON when the client accepts it (every conforming client does); an SSE frame for those that only take a stream. */
  private writeMessage(req: IncomingMessage, res: ServerResponse, status: number, json: Json): void {
    const accept = String(req.headers.accept ?? '');
    if (accept.includes('text/event-stream') && !accept.includes('application/json') && !accept.includes('*/*')) {
      res.writeHead(status, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      endChunk(res, JsonText.concat(['event: message\ndata: ', json, '\n\n']));
      return;
    }
    writeJson(res, status, json);
  }
}

/**
 * A JSON reply with a length, not chunked framing; a large string is encoded to bytes once, not measured and then
 * encoded. A reply around prepared bytes (a big tools/list) goes out as its parts in one corked write: the
 * prepared bytes as they are, never encoded again.
 */
export function writeJson(res: ServerResponse, status: number, json: Json): void {
  if (typeof json !== 'string') {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': json.byteLength });
    const last = json.parts.length - 1;
    res.cork(); // end() uncorks: head, bytes and tail leave in one writev
    for (let i = 0; i < last; i++) res.write(json.parts[i]!);
    res.end(json.parts[last]);
    return;
  }
  const body = json.length > LARGE_REPLY_CHARS ? Buffer.from(json) : json;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length });
  res.end(body);
}

/**
 * Ends a response of unknown length (SSE) with this text as its last chunk: one chunk, as a string would make
 * (a JsonText is joined as bytes; its prepared bytes are copied, not encoded again).
 */
function endChunk(res: ServerResponse, text: Json): void {
  res.end(typeof text === 'string' ? text : text.toBuffer());
}

function scopeKey(scope: McpScope): string {
  return scope.kind === 'aggregate' ? 'aggregate' : `server:${scope.serverName}`;
}

/**
 * The response to one POST: JSON written once, unless the upstream sends something during the call (progress,
 * logs, a request to the client); then the response switches to an SSE stream, carries those messages as they
 * come and ends with the reply. Clients that accept only `text/event-stream` get the reply framed as SSE.
 */
export class PostResponder implements RequestExtra {
  private streaming = false;
  private readonly canStream: boolean;
  private nextEventId = 1;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    /** Put before each event number (post-stream.ts); plain numbers without it. */
    private readonly eventIdPrefix = '',
  ) {
    this.canStream = String(req.headers.accept ?? '').includes('text/event-stream');
  }

  sendNotification(notification: Record<string, unknown>): void {
    this.write(JSON.stringify(notification));
  }

  sendRequest(request: Record<string, unknown>): void {
    this.write(JSON.stringify(request));
  }

  /** Writes the reply; `status` applies when it goes out alone as JSON (a stream has already said 200). */
  finish(json: Json, status = 200): void {
    if (this.res.writableEnded) return;
    if (this.streaming) {
      endChunk(this.res, this.frame(json));
      return;
    }
    const accept = String(this.req.headers.accept ?? '');
    if (accept.includes('text/event-stream') && !accept.includes('application/json') && !accept.includes('*/*')) {
      this.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      endChunk(this.res, this.frame(json));
      return;
    }
    writeJson(this.res, status, json);
  }

  private write(json: string): void {
    if (!this.canStream || this.res.writableEnded) return; // a client that takes no stream gets the reply alone
    if (!this.streaming) {
      this.streaming = true;
      this.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive' });
    }
    this.res.write(this.frame(json));
  }

  private frame(json: string): string;
  private frame(json: Json): Json;
  private frame(json: Json): Json {
    const head = `id: ${this.eventIdPrefix}${this.nextEventId++}\nevent: message\ndata: `;
    return typeof json === 'string' ? `${head}${json}\n\n` : JsonText.concat([head, json, '\n\n']);
  }
}
