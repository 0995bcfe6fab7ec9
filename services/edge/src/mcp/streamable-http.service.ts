import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '#libs/contracts';
import { PrincipalService } from '../auth/principal.service.js';
import { UsageLimiter, type Release } from '../auth/usage-limiter.js';
import { EDGE_SETTINGS, type EdgeSettings } from '../edge-settings.js';
import { HttpProblem } from '../http/http-problem.js';
import { readJsonBody } from '../http/json-body.js';
import type { OriginPolicy } from '../http/origin.js';
import { ORIGIN_POLICY } from '../tokens.js';
import { classify, errorJson, JsonRpcErrorCode, resultJson, type JsonRpcRequest } from './jsonrpc.js';
import { McpDispatcher, type McpScope } from './mcp.dispatcher.js';
import { writeMcpError } from './mcp-errors.js';
import { NotificationStreams } from './notification-streams.js';
import { isSupportedProtocolHeader, negotiateProtocolVersion } from './protocol.js';
import { SessionStore, type McpSession } from './session.store.js';

const SESSION_HEADER = 'mcp-session-id';

/**
 * MCP's Streamable HTTP transport (2025-03-26 to 2025-11-25) implemented directly: sessions in Redis instead of
 * per-process transport objects, so any replica serves any session, and responses as JSON written once.
 */
@Injectable()
export class StreamableHttpService {
  private readonly bodyLimit: number;

  constructor(
    @Inject(EDGE_SETTINGS) settings: EdgeSettings,
    @Inject(ORIGIN_POLICY) private readonly origins: OriginPolicy,
    @Inject(PrincipalService) private readonly principals: PrincipalService,
    @Inject(SessionStore) private readonly sessions: SessionStore,
    @Inject(McpDispatcher) private readonly dispatcher: McpDispatcher,
    @Inject(NotificationStreams) private readonly streams: NotificationStreams,
    @Inject(UsageLimiter) private readonly limits: UsageLimiter,
  ) {
    this.bodyLimit = settings.env.MAX_REQUEST_BODY_BYTES;
  }

  async post(req: IncomingMessage, res: ServerResponse, scope: McpScope): Promise<void> {
    try {
      this.origins.check(req.headers.origin);
      const principal = await this.principals.authenticate(req.headers);
      const body = await readJsonBody(req, this.bodyLimit, { jsonRpc: true });
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

      if (!classified.some((m) => m.kind !== 'notification' && m.kind !== 'response')) {
        res.writeHead(202).end();
        return;
      }
      // One HTTP request counts once against the key's limits; over them, the whole request gets 429.
      let release: Release;
      try {
        release = await this.limits.admit(principal);
      } catch (error) {
        const only = !batch && classified[0]!.kind === 'request' ? (classified[0] as { message: JsonRpcRequest }).message.id : null;
        return writeMcpError(res, error, only);
      }
      try {
        const texts = await Promise.all(
          classified.map((message) =>
            message.kind === 'request'
              ? this.dispatcher.respond(message.message, { principal, scope, headers: req.headers, session })
              : message.kind === 'invalid'
                ? errorJson(message.id, JsonRpcErrorCode.INVALID_REQUEST, `Invalid Request: ${message.reason}`)
                : null,
          ),
        );
        const replies = texts.filter((t): t is string => t !== null);
        this.writeMessage(req, res, 200, batch ? `[${replies.join(',')}]` : replies[0]!);
      } finally {
        release();
      }
    } catch (error) {
      writeMcpError(res, error);
    }
  }

  async get(req: IncomingMessage, res: ServerResponse, scope: McpScope): Promise<void> {
    try {
      this.origins.check(req.headers.origin);
      const principal = await this.principals.authenticate(req.headers);
      const session = await this.requireSession(req, scope, principal);
      if (!String(req.headers.accept ?? '').includes('text/event-stream')) {
        throw new HttpProblem(406, 'GET needs Accept: text/event-stream', JsonRpcErrorCode.INVALID_REQUEST);
      }
      this.streams.open(session.id, res);
    } catch (error) {
      writeMcpError(res, error);
    }
  }

  async delete(req: IncomingMessage, res: ServerResponse, scope: McpScope): Promise<void> {
    try {
      this.origins.check(req.headers.origin);
      const principal = await this.principals.authenticate(req.headers);
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
    this.writeMessage(req, res, 200, resultJson(request.id, this.dispatcher.initializeResult(scope, protocolVersion)));
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

  /** JSON when the client accepts it (every conforming client does); an SSE frame for those that only take a stream. */
  private writeMessage(req: IncomingMessage, res: ServerResponse, status: number, json: string): void {
    const accept = String(req.headers.accept ?? '');
    if (accept.includes('text/event-stream') && !accept.includes('application/json') && !accept.includes('*/*')) {
      res.writeHead(status, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.end(`event: message\ndata: ${json}\n\n`);
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(json);
  }

}

function scopeKey(scope: McpScope): string {
  return scope.kind === 'aggregate' ? 'aggregate' : `server:${scope.serverName}`;
}
