import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Bus } from '#libs/bus';
import { SessionMessage, type DomainError } from '#libs/contracts';
import { PrincipalService } from '../auth/principal.service.js';
import { UsageLimiter } from '../auth/usage-limiter.js';
import { EDGE_SETTINGS, type EdgeSettings } from '../edge-settings.js';
import { HttpProblem } from '../http/http-problem.js';
import { readJsonBody } from '../http/json-body.js';
import type { OriginPolicy } from '../http/origin.js';
import { ORIGIN_POLICY } from '../tokens.js';
import { classify, errorJson, JsonRpcErrorCode, resultJson } from './jsonrpc.js';
import { McpDispatcher, type McpScope } from './mcp.dispatcher.js';
import { NotificationStreams } from './notification-streams.js';
import { negotiateProtocolVersion } from './protocol.js';
import { SessionStore } from './session.store.js';
import { writeMcpError } from './mcp-errors.js';

const AGGREGATE: McpScope = { kind: 'aggregate' };

/**
 * The legacy 2024-11-05 HTTP+SSE transport: `GET /sse` opens the stream and names the POST endpoint,
 * `POST /messages?sessionId=` takes messages and answers 202; replies travel on the stream. The stream is held by
 * one replica; a POST that lands on another reaches it over NATS (SessionMessage), so no sticky balancing is needed.
 */
@Injectable()
export class LegacySseService implements OnModuleInit, OnModuleDestroy {
  private unsubscribe?: () => void;

  constructor(
    @Inject(EDGE_SETTINGS) private readonly settings: EdgeSettings,
    @Inject(ORIGIN_POLICY) private readonly origins: OriginPolicy,
    @Inject(PrincipalService) private readonly principals: PrincipalService,
    @Inject(SessionStore) private readonly sessions: SessionStore,
    @Inject(McpDispatcher) private readonly dispatcher: McpDispatcher,
    @Inject(NotificationStreams) private readonly streams: NotificationStreams,
    @Inject(UsageLimiter) private readonly limits: UsageLimiter,
    @Inject(Bus) private readonly bus: Bus,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.bus.subscribe(SessionMessage, ({ session_id, message }) => void this.streams.send(session_id, message));
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  async open(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      this.origins.check(req.headers.origin);
      const principal = await this.principals.authenticate(req.headers);
      const session = await this.sessions.create({
        scope: 'aggregate',
        protocolVersion: '2024-11-05',
        ownerHash: principal.token_hash,
        clientInfo: null,
        clientCapabilities: {},
      });
      this.streams.open(session.id, res);
      res.write(`event: endpoint\ndata: /messages?sessionId=${session.id}\n\n`);
      res.on('close', () => void this.sessions.end(session.id).catch(() => undefined));
    } catch (error) {
      writeMcpError(res, error);
    }
  }

  async post(req: IncomingMessage, res: ServerResponse, sessionId: string | undefined): Promise<void> {
    try {
      this.origins.check(req.headers.origin);
      const principal = await this.principals.authenticate(req.headers);
      if (!sessionId) throw new HttpProblem(400, 'sessionId query parameter is required', JsonRpcErrorCode.INVALID_REQUEST);
      const session = await this.sessions.get(sessionId);
      if (!session || session.scope !== 'aggregate' || session.ownerHash !== principal.token_hash) {
        throw new HttpProblem(404, 'Session not found', -32001);
      }
      const message = classify(await readJsonBody(req, this.settings.env.MAX_REQUEST_BODY_BYTES, { jsonRpc: true }));
      if (message.kind === 'invalid') throw new HttpProblem(400, `Invalid Request: ${message.reason}`, JsonRpcErrorCode.INVALID_REQUEST);
      res.writeHead(202, { 'content-type': 'text/plain' }).end('Accepted');
      if (message.kind !== 'request') return;

      const request = message.message;
      let reply: string;
      if (request.method === 'initialize') {
        reply = resultJson(request.id, this.dispatcher.initializeResult(AGGREGATE, negotiateProtocolVersion(request.params?.protocolVersion)));
      } else {
        reply = await this.limits.admit(principal).then(
          (release) => this.dispatcher.respond(request, { principal, scope: AGGREGATE, headers: req.headers, session }).finally(release),
          (error: DomainError) => errorJson(request.id, JsonRpcErrorCode.RATE_LIMITED, error.message, error.details),
        );
      }
      if (!this.streams.send(session.id, reply)) this.bus.publish(SessionMessage, { session_id: session.id, message: reply });
    } catch (error) {
      writeMcpError(res, error);
    }
  }
}
