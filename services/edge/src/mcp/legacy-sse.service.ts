import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DomainError } from '#libs/contracts';
import { PrincipalService } from '../auth/principal.service.js';
import { UsageLimiter } from '../auth/usage-limiter.js';
import { EDGE_SETTINGS, type EdgeSettings } from '../edge-settings.js';
import { HttpProblem } from '../http/http-problem.js';
import { readJsonBody } from '../http/json-body.js';
import type { OriginPolicy } from '../http/origin.js';
import { ORIGIN_POLICY } from '../tokens.js';
import { jsonString, type Json } from './json-text.js';
import { classify, errorJson, JsonRpcErrorCode, resultJson } from './jsonrpc.js';
import { McpDispatcher, type McpScope, type RequestExtra } from './mcp.dispatcher.js';
import { NotificationStreams } from './notification-streams.js';
import { negotiateProtocolVersion } from './protocol.js';
import { SessionStore } from './session.store.js';
import { writeMcpError } from './mcp-errors.js';
import { StreamableHttpService } from './streamable-http.service.js';

const AGGREGATE: McpScope = { kind: 'aggregate' };

/**
 * The legacy 2024-11-05 HTTP+SSE transport: `GET /sse` opens the stream and names the POST endpoint,
 * `POST /messages?sessionId=` takes messages and answers 202; replies travel on the stream. The stream is held by
 * one replica, subscribed to the session's subject; a POST that lands on another replica publishes its reply (and
 * whatever the upstream sent during the call) there, so no sticky balancing is needed. Same features as /mcp.
 */
@Injectable()
export class LegacySseService {
  constructor(
    @Inject(EDGE_SETTINGS) private readonly settings: EdgeSettings,
    @Inject(ORIGIN_POLICY) private readonly origins: OriginPolicy,
    @Inject(PrincipalService) private readonly principals: PrincipalService,
    @Inject(SessionStore) private readonly sessions: SessionStore,
    @Inject(McpDispatcher) private readonly dispatcher: McpDispatcher,
    @Inject(NotificationStreams) private readonly streams: NotificationStreams,
    @Inject(UsageLimiter) private readonly limits: UsageLimiter,
    @Inject(StreamableHttpService) private readonly streamable: StreamableHttpService,
  ) {}

  async open(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      this.origins.check(req.headers.origin);
      const principal = await this.principals.authenticate(req.headers);
      await this.limits.countRequest(principal); // every authenticated request counts once against rpm_limit
      const session = await this.sessions.create({
        scope: 'aggregate',
        protocolVersion: '2024-11-05',
        ownerHash: principal.token_hash,
        clientInfo: null,
        clientCapabilities: {},
      });
      this.streams.open(session.id, res, { legacy: true });
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
      await this.limits.countRequest(principal); // every authenticated request counts once against rpm_limit
      if (!sessionId) throw new HttpProblem(400, 'sessionId query parameter is required', JsonRpcErrorCode.INVALID_REQUEST);
      const session = await this.sessions.get(sessionId);
      if (!session || session.scope !== 'aggregate' || session.ownerHash !== principal.token_hash) {
        throw new HttpProblem(404, 'Session not found', -32001);
      }
      const message = classify(await readJsonBody(req, this.settings.env.MAX_REQUEST_BODY_BYTES, { jsonRpc: true }));
      if (message.kind === 'invalid') throw new HttpProblem(400, `Invalid Request: ${message.reason}`, JsonRpcErrorCode.INVALID_REQUEST);
      res.writeHead(202, { 'content-type': 'text/plain' }).end('Accepted');
      this.streamable.routeClientMessage(session, message);
      if (message.kind !== 'request') return;

      const request = message.message;
      const toStream = (json: string) => this.streams.publish(session.id, json);
      const extra: RequestExtra = {
        sendNotification: (notification) => toStream(JSON.stringify(notification)),
        sendRequest: (serverRequest) => toStream(JSON.stringify(serverRequest)),
      };
      let reply: Json;
      if (request.method === 'initialize') {
        const params = request.params ?? {};
        await this.sessions.setClient(session, (params.clientInfo as Record<string, unknown>) ?? null, (params.capabilities as Record<string, unknown>) ?? {});
        reply = resultJson(request.id, await this.dispatcher.initializeResult(AGGREGATE, negotiateProtocolVersion(params.protocolVersion)));
      } else {
        reply = await this.limits.admit(principal).then(
          (release) =>
            this.dispatcher.respond(request, { principal, scope: AGGREGATE, headers: req.headers, session, requestId: request.id, extra }).finally(release),
          (error: DomainError) => errorJson(request.id, JsonRpcErrorCode.RATE_LIMITED, error.message, error.details),
        );
      }
      toStream(jsonString(reply)); // the stream takes text (it may cross to another replica)
    } catch (error) {
      writeMcpError(res, error);
    }
  }
}
