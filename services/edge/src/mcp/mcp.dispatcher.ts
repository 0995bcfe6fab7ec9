import { Inject, Injectable, Logger } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { Bus } from '#libs/bus';
import { DomainError, MASTER_PRINCIPAL, UpstreamRequest, type AuditStatus, type CatalogServer, type Principal } from '#libs/contracts';
import { AuditTrail } from '../auth/audit-trail.js';
import { AccessService } from '../catalog/access.service.js';
import type { AccessView } from '../catalog/access.js';
import { CatalogService, type PreparedCatalog } from '../catalog/catalog.service.js';
import { errorJson, JsonRpcError, JsonRpcErrorCode, resultJson, type JsonRpcRequest } from './jsonrpc.js';
import { SERVER_NAME } from './protocol.js';
import type { McpSession } from './session.store.js';

/** Where a request landed: the aggregate `/mcp` or one server's endpoint. */
export type McpScope = { kind: 'aggregate' } | { kind: 'server'; serverName: string };

export interface McpCallContext {
  principal: Principal;
  scope: McpScope;
  headers: IncomingHttpHeaders;
  session: McpSession;
}

const UPSTREAM_CALL_BUDGET_MS = 300_000;
const PACKAGE_VERSION = '0.1.0';

/**
 * Answers the MCP methods a client sends after initialize. Lists come from the in-memory catalog, prepared
 * once per catalog version and permission set; calls make exactly one bus request, to a connector.
 */
@Injectable()
export class McpDispatcher {
  private readonly log = new Logger(McpDispatcher.name);

  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(CatalogService) private readonly catalogs: CatalogService,
    @Inject(AccessService) private readonly access: AccessService,
    @Inject(AuditTrail) private readonly audit: AuditTrail,
  ) {}

  serverInfo(scope: McpScope): Record<string, unknown> {
    return { name: scope.kind === 'aggregate' ? SERVER_NAME : `${SERVER_NAME}/${scope.serverName}`, version: PACKAGE_VERSION };
  }

  /** The result of `initialize` (as JSON text) once the protocol revision is agreed. */
  initializeResult(scope: McpScope, protocolVersion: string): string {
    return JSON.stringify({ protocolVersion, capabilities: { tools: { listChanged: true } }, serverInfo: this.serverInfo(scope) });
  }

  /** Answers one request as JSON-RPC response text; never throws. */
  async respond(request: JsonRpcRequest, ctx: McpCallContext): Promise<string> {
    try {
      return resultJson(request.id, await this.dispatch(request, ctx));
    } catch (error) {
      if (error instanceof JsonRpcError) return errorJson(request.id, error.code, error.message, error.data);
      if (error instanceof DomainError) {
        const code =
          error.code === 'RATE_LIMITED' ? JsonRpcErrorCode.RATE_LIMITED : error.code === 'INVALID_ARGUMENT' ? JsonRpcErrorCode.INVALID_PARAMS : JsonRpcErrorCode.INTERNAL_ERROR;
        return errorJson(request.id, code, error.message, error.details);
      }
      this.log.error(`${request.method} failed: ${(error as Error).message}`);
      return errorJson(request.id, JsonRpcErrorCode.INTERNAL_ERROR, 'Internal error');
    }
  }

  /** Checks that the scope names a server this caller may use (per-server endpoints), before a session exists. */
  async assertScope(scope: McpScope, principal: Principal, headers: IncomingHttpHeaders): Promise<void> {
    if (scope.kind === 'aggregate') return;
    const catalog = await this.catalogs.current();
    const server = catalog.server(scope.serverName);
    if (!server) throw new DomainError('NOT_FOUND', `unknown MCP server "${scope.serverName}"`);
    const view = this.viewFor(catalog, principal, headers);
    if (!view.effective.allowedById.has(server.server_id)) {
      throw new DomainError('PERMISSION_DENIED', `this key may not use MCP server "${scope.serverName}"`);
    }
  }

  /** Returns the JSON text of the result. */
  async dispatch(request: JsonRpcRequest, ctx: McpCallContext): Promise<string> {
    switch (request.method) {
      case 'ping':
        return '{}';
      case 'tools/list':
        return this.listTools(ctx);
      case 'tools/call':
        return this.callTool(request, ctx);
      case 'logging/setLevel':
        return '{}';
      case 'initialize':
        throw new JsonRpcError(JsonRpcErrorCode.INVALID_REQUEST, 'session is already initialized');
      default:
        throw new JsonRpcError(JsonRpcErrorCode.METHOD_NOT_FOUND, `Method not found: ${request.method}`);
    }
  }

  private viewFor(catalog: PreparedCatalog, principal: Principal, headers: IncomingHttpHeaders): AccessView {
    return this.access.view(catalog, principal, headers);
  }

  private async listTools(ctx: McpCallContext): Promise<string> {
    const catalog = await this.catalogs.current();
    const view = this.viewFor(catalog, ctx.principal, ctx.headers);
    const scopeKey = ctx.scope.kind === 'aggregate' ? '*' : ctx.scope.serverName;
    return catalog.memoize(`tools/list:${scopeKey}:${view.fingerprint}`, () => {
      const tools: unknown[] = [];
      for (const { server, tools: allowed } of view.servers.values()) {
        if (ctx.scope.kind === 'server') {
          if (server.server_name !== ctx.scope.serverName) continue;
          tools.push(...allowed);
          continue;
        }
        const names = catalog.aggregateNames.get(server.server_id);
        for (const tool of allowed) {
          const name = names?.get(tool.name);
          if (name) tools.push({ ...tool, name });
        }
      }
      return JSON.stringify({ tools });
    });
  }

  private async callTool(request: JsonRpcRequest, ctx: McpCallContext): Promise<string> {
    const name = request.params?.name;
    if (typeof name !== 'string' || !name) throw new JsonRpcError(JsonRpcErrorCode.INVALID_PARAMS, 'tools/call needs params.name');
    const args = request.params?.arguments;
    if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
      throw new JsonRpcError(JsonRpcErrorCode.INVALID_PARAMS, 'params.arguments must be an object');
    }
    const result = await this.callToolAs(ctx.principal, ctx.scope, name, request.params!, ctx.headers, ctx.session.id);
    if (result === undefined) throw new JsonRpcError(JsonRpcErrorCode.INVALID_PARAMS, `Unknown tool: ${name}`);
    return JSON.stringify(result);
  }

  /**
   * The one way a tool is called (MCP and REST): resolve it among the caller's tools, forward it, audit it.
   * Returns undefined for a tool the caller cannot list, which never reaches an upstream.
   */
  async callToolAs(
    principal: Principal,
    scope: McpScope,
    name: string,
    params: Record<string, unknown>,
    headers: IncomingHttpHeaders,
    sessionId: string | null,
  ): Promise<unknown> {
    const started = Date.now();
    const catalog = await this.catalogs.current();
    const target = this.resolveTool(catalog, this.viewFor(catalog, principal, headers), scope, name);
    if (!target) {
      // A tool the master key could reach is one this caller may not: audited as denied. Unknown names are not.
      const known = this.resolveTool(catalog, this.viewFor(catalog, MASTER_PRINCIPAL, {}), scope, name);
      if (known) this.audit.record(auditRecord(principal, known.server.server_name, known.tool, 'denied', started, 'PERMISSION_DENIED', sessionId));
      return undefined;
    }
    let status: AuditStatus = 'error';
    let errorCode: string | null = null;
    try {
      const result = await this.forward(target.server, 'tools/call', { ...params, name: target.tool }, headers);
      status = (result as { isError?: boolean }).isError ? 'error' : 'success';
      return result;
    } catch (error) {
      errorCode = error instanceof DomainError ? error.code : error instanceof JsonRpcError ? String(error.code) : 'INTERNAL';
      status = errorCode === 'UPSTREAM_TIMEOUT' || errorCode === 'BUS_TIMEOUT' ? 'timeout' : 'error';
      throw error;
    } finally {
      this.audit.record(auditRecord(principal, target.server.server_name, target.tool, status, started, errorCode, sessionId));
    }
  }

  /** Finds a tool the caller may use; anything not listed to this caller is unknown to it. */
  resolveTool(catalog: PreparedCatalog, view: AccessView, scope: McpScope, name: string): { server: CatalogServer; tool: string } | undefined {
    if (scope.kind === 'server') {
      const server = catalog.server(scope.serverName);
      const entry = server && view.servers.get(server.server_id);
      return entry?.toolNames.has(name) ? { server: entry.server, tool: name } : undefined;
    }
    const route = catalog.aggregateRoutes.get(name);
    const entry = route && view.servers.get(route.server.server_id);
    return entry?.toolNames.has(route!.tool.name) ? { server: entry.server, tool: route!.tool.name } : undefined;
  }

  /** One bus request to a connector. Upstream trouble on a tool call becomes an `isError` result. */
  async forward(server: CatalogServer, method: 'tools/call', params: Record<string, unknown>, headers: IncomingHttpHeaders): Promise<unknown> {
    try {
      const { result } = await this.bus.call(
        UpstreamRequest,
        { server_id: server.server_id, method, params, forward_headers: forwardHeaders(server, headers) },
        { timeoutMs: UPSTREAM_CALL_BUDGET_MS },
      );
      return result;
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      const jsonRpcCode = error.details?.jsonrpc_code;
      if (typeof jsonRpcCode === 'number') throw new JsonRpcError(jsonRpcCode, error.message, error.details?.data);
      if (['UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'BUS_TIMEOUT'].includes(error.code)) {
        this.log.warn(`${server.server_name}: ${error.message}`);
        return { content: [{ type: 'text', text: `MCP server "${server.server_name}" failed: ${error.message}` }], isError: true };
      }
      throw error;
    }
  }
}

/**
 * Headers the upstream receives from this request: `x-mcp-{server}-authorization` as its Authorization, and the
 * server's `extra_headers` copied from the client. The caller's own gateway key is never among them.
 */
export function forwardHeaders(server: CatalogServer, headers: IncomingHttpHeaders): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const auth = headers[`x-mcp-${server.server_name}-authorization`];
  if (typeof auth === 'string') out.authorization = auth;
  for (const name of server.extra_headers) {
    const lower = name.toLowerCase();
    if (lower === 'authorization' || lower === 'x-litellm-api-key') continue;
    const value = headers[lower];
    if (typeof value === 'string') out[lower] = value;
  }
  return Object.keys(out).length ? out : undefined;
}

function auditRecord(
  principal: Principal,
  server: string,
  tool: string,
  status: AuditStatus,
  started: number,
  errorCode: string | null,
  sessionId: string | null,
) {
  return {
    time: new Date(started).toISOString(),
    key_alias: principal.key_alias,
    token_hash_prefix: principal.token_hash?.slice(0, 8) ?? null,
    team_id: principal.team_id,
    organization_id: principal.organization_id,
    server_name: server,
    tool,
    status,
    duration_ms: Date.now() - started,
    error_code: errorCode,
    session_id: sessionId,
  };
}
