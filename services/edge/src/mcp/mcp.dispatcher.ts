import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { Bus } from '#libs/bus';
import {
  DomainError,
  instanceUpstreamRequest,
  MASTER_PRINCIPAL,
  UpstreamRequest,
  type AuditStatus,
  type CatalogServer,
  type ForwardedMethod,
  type Principal,
  type ReplyOf,
  type RequestOf,
} from '#libs/contracts';
import { AuditTrail } from '../auth/audit-trail.js';
import { AccessService } from '../catalog/access.service.js';
import type { AccessView } from '../catalog/access.js';
import { CatalogService, type PreparedCatalog } from '../catalog/catalog.service.js';
import { JsonText, type Json } from './json-text.js';
import { errorJson, JsonRpcError, JsonRpcErrorCode, resultJson, type JsonRpcId, type JsonRpcRequest } from './jsonrpc.js';
import { featureKey, McpIndex, toolsFor } from './mcp-index.js';
import { ALL_PROTOCOL_VERSIONS, assertParamHeaders, CACHEABLE_METHODS, ModernRejection, modernResultJson, paramHeaders, paramHeaderValues, type ParamHeader } from './modern.js';
import { LATEST_PROTOCOL_VERSION, SERVER_NAME } from './protocol.js';
import { callerOf, callGone, InputRequiredBridge } from './input-required.js';
import { RequestStateSealer } from './request-state.js';
import { repeatableAfterLoss } from './safe-retry.js';
import { SessionStore, type McpSession } from './session.store.js';
import { UpstreamUsers } from '../upstream-oauth/upstream-users.js';

/** Where a request landed: the aggregate `/mcp` or one server's endpoint. */
export type McpScope = { kind: 'aggregate' } | { kind: 'server'; serverName: string };

/**
 * The channel back to the client for one request, shaped like the SDK's `RequestHandlerExtra`: what the upstream
 * sends during the call (progress, logs, sampling, elicitation, roots requests) goes out through it. The
 * transport decides how (the POST's response switches to SSE; the legacy transport writes to its stream).
 */
export interface RequestExtra {
  sendNotification(notification: Record<string, unknown>): void;
  sendRequest(request: Record<string, unknown>): void;
}

export interface McpCallContext {
  principal: Principal;
  scope: McpScope;
  headers: IncomingHttpHeaders;
  session: McpSession;
  /** The client's JSON-RPC id of the request being answered (cancellation names it). */
  requestId?: JsonRpcId;
  extra?: RequestExtra;
}

const UPSTREAM_CALL_BUDGET_MS = 300_000;
/** The 2025 revisions' "Resource not found". */
const RESOURCE_NOT_FOUND = -32002;
/** How long a list of a 2025-era upstream stays good: the catalog's own refresh interval. */
const LIST_TTL_MS = 30_000;
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
    @Inject(SessionStore) private readonly sessions: SessionStore,
    @Optional() @Inject(RequestStateSealer) sealer?: RequestStateSealer,
    @Optional() @Inject(UpstreamUsers) private readonly upstreamUsers?: UpstreamUsers,
  ) {
    this.inputRequired = new InputRequiredBridge(sealer ?? new RequestStateSealer(undefined));
  }

  private readonly inputRequired: InputRequiredBridge;

  /** Bus contracts of the connector instances holding client sessions, built once per instance. */
  private readonly instanceContracts = new Map<string, ReturnType<typeof instanceUpstreamRequest>>();

  serverInfo(scope: McpScope): Record<string, unknown> {
    return { name: scope.kind === 'aggregate' ? SERVER_NAME : `${SERVER_NAME}/${scope.serverName}`, version: PACKAGE_VERSION };
  }

  /**
   * The result of `initialize` (as JSON text) once the protocol revision is agreed. The aggregate serves every
   * feature; a server's own endpoint serves what that upstream declared (tools always).
   */
  async initializeResult(scope: McpScope, protocolVersion: string): Promise<string> {
    let capabilities: Record<string, unknown> = {
      tools: { listChanged: true },
      prompts: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      completions: {},
      logging: {},
    };
    if (scope.kind === 'server') {
      const upstream = (await this.catalogs.current()).server(scope.serverName)?.capabilities ?? {};
      capabilities = Object.fromEntries(Object.entries(capabilities).filter(([name]) => name === 'tools' || upstream[name] !== undefined));
      if (upstream.resources && !(upstream.resources as { subscribe?: boolean }).subscribe) capabilities.resources = { listChanged: true };
    }
    return JSON.stringify({ protocolVersion, capabilities, serverInfo: this.serverInfo(scope) });
  }

  /**
   * The result of `server/discover` (2026-07-28): every revision served and the capabilities of this endpoint
   * as the modern era states them (no logging/setLevel).
   */
  async discoverResult(scope: McpScope): Promise<string> {
    const legacy = JSON.parse(await this.initializeResult(scope, LATEST_PROTOCOL_VERSION)) as { capabilities: Record<string, unknown> };
    // list changes and resource updates come through subscriptions/listen: listChanged and subscribe say so
    const capabilities: Record<string, unknown> = {};
    for (const name of ['tools', 'prompts', 'resources', 'completions'] as const) {
      if (legacy.capabilities[name] !== undefined) capabilities[name] = legacy.capabilities[name];
    }
    return JSON.stringify({ supportedVersions: ALL_PROTOCOL_VERSIONS, capabilities });
  }

  /** Answers one 2026-07-28 request: the result shaped as that revision wants it (see modern.ts); never throws. */
  async respondModern(request: JsonRpcRequest, ctx: McpCallContext): Promise<Json> {
    return this.respond(
      request,
      ctx,
      async (text) =>
        modernResultJson(text, {
          serverInfo: this.serverInfo(ctx.scope),
          ...(CACHEABLE_METHODS.has(request.method) ? { cache: await this.cacheHint(request, ctx) } : {}),
        }),
      // 2026-07-28 has no "resource not found" code of its own: an unknown URI is an invalid param (SEP-2164)
      (code) => (code === RESOURCE_NOT_FOUND ? JsonRpcErrorCode.INVALID_PARAMS : code),
    );
  }

  /**
   * How long a modern client may reuse this result, and whether a cache may share it between users. A list
   * merges its servers' hints: the smallest `ttlMs` (the gateway's own refresh interval for upstreams that give
   * none), and `private` when any server says so or when the caller's permissions (or `x-mcp-servers`) hide
   * anything another caller would see. `resources/read` is the upstream's to say (its hints win in the result);
   * without them it is not to be reused.
   */
  async cacheHint(request: JsonRpcRequest, ctx: McpCallContext): Promise<{ ttlMs: number; cacheScope: 'public' | 'private' }> {
    if (request.method === 'resources/read') return { ttlMs: 0, cacheScope: 'private' };
    const catalog = await this.catalogs.current();
    if (request.method === 'server/discover') return { ttlMs: LIST_TTL_MS, cacheScope: ctx.scope.kind === 'aggregate' ? 'public' : 'private' };
    const view = this.viewFor(catalog, ctx.principal, ctx.headers);
    const scopeKey = ctx.scope.kind === 'aggregate' ? '*' : ctx.scope.serverName;
    // the same for every request of this catalog version, scope and permission set (a big list checks every tool)
    return catalog.memoize(`cache-hint:${request.method}:${scopeKey}:${view.fingerprint}`, () => {
      let ttlMs = LIST_TTL_MS;
      let shared = true;
      for (const server of catalog.catalog.servers) {
        if (server.status !== 'healthy' || (ctx.scope.kind === 'server' && server.server_name !== ctx.scope.serverName)) continue;
        const entry = view.servers.get(server.server_id);
        // filtered for this caller: a server it may not use, or (for tools) a tool of it withheld
        if (!entry || (request.method === 'tools/list' && !server.tools.every((t) => entry.toolNames.has(t.name)))) {
          shared = false;
          continue;
        }
        const hint = server.cache_hints?.[request.method];
        if (hint) {
          ttlMs = Math.min(ttlMs, hint.ttl_ms);
          if (hint.scope === 'private') shared = false;
        }
      }
      return { ttlMs, cacheScope: shared ? ('public' as const) : ('private' as const) };
    });
  }

  /** Answers one request as JSON-RPC response text (a prepared list's bytes spliced in as bytes); never throws. */
  async respond(
    request: JsonRpcRequest,
    ctx: McpCallContext,
    shape?: (resultText: Json) => Promise<Json>,
    errorCode: (code: number) => number = (code) => code,
  ): Promise<Json> {
    try {
      if (request.method === 'server/discover' && ctx.session.stateless) {
        const text = await this.discoverResult(ctx.scope);
        return resultJson(request.id, shape ? await shape(text) : text);
      }
      const text = await this.dispatch(request, ctx);
      return resultJson(request.id, shape ? await shape(text) : text);
    } catch (error) {
      if (error instanceof ModernRejection) throw error; // answered with its own HTTP status
      if (error instanceof JsonRpcError) return errorJson(request.id, errorCode(error.code), error.message, error.data);
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

  /** Returns the JSON text of the result (the lists as prepared bytes). */
  async dispatch(request: JsonRpcRequest, ctx: McpCallContext): Promise<Json> {
    switch (request.method) {
      case 'ping':
        return '{}';
      case 'tools/list':
        return this.listTools(ctx);
      case 'tools/call':
        return this.callTool(request, ctx);
      case 'prompts/list':
        return this.listPrompts(ctx);
      case 'prompts/get':
        return this.getPrompt(request, ctx);
      case 'resources/list':
        return this.listResources(ctx);
      case 'resources/templates/list':
        return this.listTemplates(ctx);
      case 'resources/read':
      case 'resources/subscribe':
      case 'resources/unsubscribe':
        return this.resourceRequest(request, ctx);
      case 'completion/complete':
        return this.complete(request, ctx);
      case 'logging/setLevel':
        return this.setLevel(request, ctx);
      case 'initialize':
        throw new JsonRpcError(JsonRpcErrorCode.INVALID_REQUEST, 'session is already initialized');
      default:
        throw new JsonRpcError(JsonRpcErrorCode.METHOD_NOT_FOUND, `Method not found: ${request.method}`);
    }
  }

  // ---- prompts, resources, completion, logging ----------------------------------------------------------

  /** The servers this caller may use in this scope, healthy ones only. */
  private async usable(ctx: McpCallContext): Promise<{ catalog: PreparedCatalog; index: McpIndex; servers: CatalogServer[]; fingerprint: string }> {
    const catalog = await this.catalogs.current();
    const view = this.viewFor(catalog, ctx.principal, ctx.headers);
    const index = catalog.memoize('mcp-index', () => new McpIndex(catalog));
    const servers = [...view.servers.values()]
      .map((v) => v.server)
      .filter((s) => ctx.scope.kind === 'aggregate' || s.server_name === ctx.scope.serverName);
    return { catalog, index, servers, fingerprint: view.fingerprint };
  }

  /** A list as this caller sees it in this scope, prepared once per catalog version and permission set as bytes. */
  private async preparedList(list: string, ctx: McpCallContext, build: (usable: Awaited<ReturnType<McpDispatcher['usable']>>) => unknown): Promise<JsonText> {
    const usable = await this.usable(ctx);
    const scopeKey = ctx.scope.kind === 'aggregate' ? '*' : ctx.scope.serverName;
    return usable.catalog.memoize(`${list}:${scopeKey}:${usable.fingerprint}`, () => JsonText.prepared(JSON.stringify(build(usable))));
  }

  private async listPrompts(ctx: McpCallContext): Promise<JsonText> {
    return this.preparedList('prompts/list', ctx, ({ index, servers }) => ({
      prompts: servers.flatMap((s) =>
        (s.prompts ?? []).map((p) => (ctx.scope.kind === 'server' ? p : { ...p, name: index.promptNames.get(s.server_id)?.get(p.name) ?? p.name })),
      ),
    }));
  }

  private async getPrompt(request: JsonRpcRequest, ctx: McpCallContext): Promise<string> {
    const name = requireString(request.params, 'name');
    const { index, servers } = await this.usable(ctx);
    let target: { server: CatalogServer; name: string } | undefined;
    if (ctx.scope.kind === 'server') {
      const server = servers[0];
      if (server && (server.prompts ?? []).some((p) => p.name === name)) target = { server, name };
    } else {
      const route = index.promptRoutes.get(name);
      if (route && servers.includes(route.server)) target = route;
    }
    if (!target) throw new JsonRpcError(JsonRpcErrorCode.INVALID_PARAMS, `Unknown prompt: ${name}`);
    return JSON.stringify(await this.forward(target.server, 'prompts/get', { ...request.params, name: target.name }, ctx));
  }

  private async listResources(ctx: McpCallContext): Promise<JsonText> {
    return this.preparedList('resources/list', ctx, ({ servers }) => ({ resources: servers.flatMap((s) => s.resources ?? []) }));
  }

  private async listTemplates(ctx: McpCallContext): Promise<JsonText> {
    return this.preparedList('resources/templates/list', ctx, ({ index, servers }) => ({
      resourceTemplates: servers.flatMap((s) =>
        (s.resource_templates ?? []).map((t) => {
          if (ctx.scope.kind === 'server') return t;
          const name = index.templateNames.get(s.server_id)?.get(t.name ?? t.uriTemplate);
          return name ? { ...t, name } : t;
        }),
      ),
    }));
  }

  /** resources/read, subscribe and unsubscribe: routed by URI (exactly as the upstream gave it). */
  private async resourceRequest(request: JsonRpcRequest, ctx: McpCallContext): Promise<string> {
    const uri = requireString(request.params, 'uri');
    const server = await this.serverForUri(uri, ctx);
    if (request.method !== 'resources/read') await this.sessions.markDedicated(ctx.session);
    return JSON.stringify(await this.forward(server, request.method as ForwardedMethod, request.params ?? {}, ctx));
  }

  private async serverForUri(uri: string, ctx: McpCallContext): Promise<CatalogServer> {
    const { index, servers } = await this.usable(ctx);
    if (ctx.scope.kind === 'server') {
      if (!servers[0]) throw new JsonRpcError(-32002, `Resource not found: ${uri}`);
      return servers[0];
    }
    const claimed = index.serversForUri(uri);
    const usable = servers.filter((s) => claimed.includes(s.server_id));
    if (usable.length === 1) return usable[0]!;
    if (usable.length > 1) {
      const names = usable.map((s) => s.server_name);
      throw new JsonRpcError(JsonRpcErrorCode.INVALID_PARAMS, `Resource ${uri} is served by ${names.join(' and ')}: use /mcp/${names[0]} (or /mcp/{server}) to choose`, {
        uri,
        servers: names,
        endpoints: names.map((n) => `/mcp/${n}`),
      });
    }
    throw new JsonRpcError(-32002, `Resource not found: ${uri}`, { uri });
  }

  private async complete(request: JsonRpcRequest, ctx: McpCallContext): Promise<string> {
    const ref = request.params?.ref as { type?: string; name?: string; uri?: string } | undefined;
    if (!ref || typeof ref !== 'object') throw new JsonRpcError(JsonRpcErrorCode.INVALID_PARAMS, 'completion/complete needs params.ref');
    const { index, servers } = await this.usable(ctx);
    let server: CatalogServer | undefined;
    let upstreamRef: Record<string, unknown> = ref;
    if (ref.type === 'ref/prompt' && typeof ref.name === 'string') {
      if (ctx.scope.kind === 'server') server = servers[0];
      else {
        const route = index.promptRoutes.get(ref.name);
        if (route && servers.includes(route.server)) {
          server = route.server;
          upstreamRef = { ...ref, name: route.name };
        }
      }
    } else if (ref.type === 'ref/resource' && typeof ref.uri === 'string') {
      server = await this.serverForUri(ref.uri, ctx).catch(() => undefined);
    }
    if (!server) throw new JsonRpcError(JsonRpcErrorCode.INVALID_PARAMS, `Unknown completion reference: ${JSON.stringify(ref)}`);
    if (!server.capabilities?.completions) return JSON.stringify({ completion: { values: [], total: 0, hasMore: false } });
    return JSON.stringify(await this.forward(server, 'completion/complete', { ...request.params, ref: upstreamRef }, ctx));
  }

  /** The level is the client's own: its upstream sessions (one per server, its own) carry it. */
  private async setLevel(request: JsonRpcRequest, ctx: McpCallContext): Promise<string> {
    requireString(request.params, 'level');
    const { servers } = await this.usable(ctx);
    await this.sessions.markDedicated(ctx.session);
    const logging = servers.filter((s) => s.capabilities?.logging !== undefined);
    const results = await Promise.allSettled(logging.map((s) => this.forward(s, 'logging/setLevel', request.params ?? {}, ctx)));
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.log.warn(`${logging[i]!.server_name}: logging/setLevel failed: ${(r.reason as Error).message}`);
    });
    if (ctx.scope.kind === 'server' && results[0]?.status === 'rejected') throw results[0].reason;
    return '{}';
  }

  private viewFor(catalog: PreparedCatalog, principal: Principal, headers: IncomingHttpHeaders): AccessView {
    return this.access.view(catalog, principal, headers);
  }

  private async listTools(ctx: McpCallContext): Promise<JsonText> {
    const catalog = await this.catalogs.current();
    const view = this.viewFor(catalog, ctx.principal, ctx.headers);
    const scopeKey = ctx.scope.kind === 'aggregate' ? '*' : ctx.scope.serverName;
    // Lists as this client would see them: upstreams show some tools only to clients declaring a capability.
    const features = featureKey(ctx.session.clientCapabilities);
    return catalog.memoize(`tools/list:${scopeKey}:${features}:${view.fingerprint}`, () => {
      const tools: unknown[] = [];
      for (const { server, toolNames } of view.servers.values()) {
        if (ctx.scope.kind === 'server' && server.server_name !== ctx.scope.serverName) continue;
        const allowed = toolsFor(server, features).filter((t) => toolNames.has(t.name));
        if (ctx.scope.kind === 'server') {
          tools.push(...allowed);
          continue;
        }
        const names = catalog.aggregateNames.get(server.server_id);
        for (const tool of allowed) {
          const name = names?.get(tool.name);
          if (name) tools.push({ ...tool, name });
        }
      }
      return JsonText.prepared(JSON.stringify({ tools }));
    });
  }

  private async callTool(request: JsonRpcRequest, ctx: McpCallContext): Promise<string> {
    const name = request.params?.name;
    if (typeof name !== 'string' || !name) throw new JsonRpcError(JsonRpcErrorCode.INVALID_PARAMS, 'tools/call needs params.name');
    const args = request.params?.arguments;
    if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
      throw new JsonRpcError(JsonRpcErrorCode.INVALID_PARAMS, 'params.arguments must be an object');
    }
    if (ctx.session.stateless) await this.checkParamHeaders(ctx, name, args);
    const result = await this.callToolAs(ctx.principal, ctx.scope, name, request.params!, ctx.headers, ctx.session.stateless ? null : ctx.session.id, ctx);
    if (result === undefined) throw new JsonRpcError(JsonRpcErrorCode.INVALID_PARAMS, `Unknown tool: ${name}`);
    return JSON.stringify(result);
  }

  /** A 2026-07-28 tools/call mirrors the arguments its tool declares with `x-mcp-header` in headers: they must agree. */
  private async checkParamHeaders(ctx: McpCallContext, name: string, args: unknown): Promise<void> {
    const catalog = await this.catalogs.current();
    const target = this.resolveTool(catalog, this.viewFor(catalog, ctx.principal, ctx.headers), ctx.scope, name);
    const declared = target && declaredParamHeaders(target.server, target.tool);
    if (declared) assertParamHeaders(declared, args as Record<string, unknown> | undefined, ctx.headers);
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
    ctx?: McpCallContext,
  ): Promise<unknown> {
    const started = Date.now();
    const catalog = await this.catalogs.current();
    let target = this.resolveTool(catalog, this.viewFor(catalog, principal, headers), scope, name);
    // a tool listed only for a capability is unknown to a client that did not declare it
    const needs = target && capabilityOnlyTools(catalog).get(target.server.server_id)?.get(target.tool);
    if (needs && !needs.some((f) => featureKey(ctx?.session.clientCapabilities).split('+').includes(f))) target = undefined;
    if (!target) {
      // A tool the master key could reach is one this caller may not: audited as denied. Unknown names are not.
      const known = this.resolveTool(catalog, this.viewFor(catalog, MASTER_PRINCIPAL, {}), scope, name);
      if (known) this.audit.record(auditRecord(principal, known.server.server_name, known.tool, 'denied', started, 'PERMISSION_DENIED', sessionId));
      return undefined;
    }
    let status: AuditStatus = 'error';
    let errorCode: string | null = null;
    try {
      const result = await this.forwardTool(target.server, { ...params, name: target.tool }, headers, ctx ?? { headers, principal });
      const outcome = result as { isError?: boolean; resultType?: string };
      status = outcome.resultType === 'input_required' ? 'input_required' : outcome.isError ? 'error' : 'success';
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
  async forwardTool(server: CatalogServer, params: Record<string, unknown>, headers: IncomingHttpHeaders, ctx?: Pick<McpCallContext, 'headers'> & Partial<McpCallContext>): Promise<unknown> {
    try {
      return await this.forward(server, 'tools/call', params, ctx ?? { headers });
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      if (['UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'BUS_TIMEOUT'].includes(error.code)) {
        this.log.warn(`${server.server_name}: ${error.message}`);
        return { content: [{ type: 'text', text: `MCP server "${server.server_name}" failed: ${error.message}` }], isError: true };
      }
      throw error;
    }
  }

  /**
   * One bus request to a connector: to the queue group, or to the connector instance holding this client's own
   * upstream session on that server (recorded in the session; if that instance is gone, the queue group again,
   * where the session is made anew). What the upstream sends during the call is streamed to `ctx.extra`.
   * An upstream's JSON-RPC error comes back as the same JsonRpcError.
   */
  async forward(
    server: CatalogServer,
    method: ForwardedMethod,
    params: Record<string, unknown>,
    ctx: Pick<McpCallContext, 'headers'> & Partial<McpCallContext>,
  ): Promise<Record<string, unknown>> {
    const session = ctx.session;
    if (session?.stateless && ctx.principal) return this.forwardModern(server, method, params, { ...ctx, principal: ctx.principal, session });
    const forward_headers = upstreamHeaders(server, method, params, ctx.headers);
    const user = this.upstreamUsers?.of(ctx.principal, ctx.headers, server);
    const request = {
      server_id: server.server_id,
      method,
      params,
      forward_headers,
      ...(user ? { user } : {}),
      ...(session && !session.stateless
        ? {
            client: {
              session_id: session.id,
              ...(ctx.requestId !== undefined ? { request_id: ctx.requestId } : {}),
              capabilities: session.clientCapabilities,
              // per-client headers (the client's own upstream credentials) get a session of their own as well
              dedicated: featureKey(session.clientCapabilities) !== '' || session.dedicated === true || forwardHeaders(server, ctx.headers) !== undefined,
            },
          }
        : {}),
    };
    const instance = session?.upstreams?.[server.server_id];
    const reply = await this.callConnector(request, ctx.extra, instance, () => {
      this.log.warn(`connector instance ${instance} is gone: ${server.server_name} gets a new upstream session for client session ${session!.id}`);
      return true;
    });
    if (session && !session.stateless && reply.instance && reply.instance !== instance) await this.sessions.recordUpstream(session, server.server_id, reply.instance);
    return reply.result;
  }

  /**
   * A 2026-07-28 client's request: no session, its capabilities and identity in the request. Its retry of an
   * `input_required` result goes where the sealed requestState says (see input-required.ts); a parked call whose
   * connector instance is gone is not started again (the tool may have run): the client is told to call anew.
   */
  private async forwardModern(
    server: CatalogServer,
    method: ForwardedMethod,
    params: Record<string, unknown>,
    ctx: Pick<McpCallContext, 'headers' | 'principal' | 'session'> & Partial<McpCallContext>,
  ): Promise<Record<string, unknown>> {
    const caller = callerOf(ctx.principal);
    const identity = { caller, serverId: server.server_id, method, params };
    const next = this.inputRequired.continuation(identity);
    const client = { session_id: 'modern', capabilities: ctx.session.clientCapabilities, dedicated: false, era: 'modern' as const, principal: caller };
    const request = {
      server_id: server.server_id,
      method,
      params: next.kind === 'call' ? next.params : {},
      forward_headers: upstreamHeaders(server, method, params, ctx.headers),
      client,
      ...(this.upstreamUsers ? { user: this.upstreamUsers.of(ctx.principal, ctx.headers, server) } : {}),
      ...(next.kind === 'resume' ? { resume: { park_id: next.park_id, responses: next.responses } } : {}),
    };
    let reply;
    try {
      reply = await this.callConnector(request, ctx.extra, next.kind === 'resume' ? next.instance : undefined, () => false);
    } catch (error) {
      if (error instanceof DomainError && (error.details?.reason === 'gone' || isGoneInstance(error))) {
        throw callGone(error.details?.reason === 'gone' ? error.message : 'the gateway instance holding the call this requestState continues has stopped; call again without requestState');
      }
      throw error;
    }
    if (reply.input_required) return this.inputRequired.parked(reply.input_required, reply.instance ?? '', identity);
    return this.inputRequired.upstreamResult(reply.result, identity);
  }

  /**
   * One bus request to a connector: to the queue group, or to one connector instance (the one holding the
   * client's own upstream session, or a parked call). When that instance is gone, `fallBack` says whether the
   * queue group may take the request instead. What the upstream sends during the call is streamed to `extra`;
   * an upstream's JSON-RPC error comes back as the same JsonRpcError.
   */
  private async callConnector(
    request: RequestOf<typeof UpstreamRequest>,
    extra: RequestExtra | undefined,
    instance: string | undefined,
    fallBack: () => boolean,
  ): Promise<ReplyOf<typeof UpstreamRequest>> {
    let relayed = false;
    const options = {
      timeoutMs: UPSTREAM_CALL_BUDGET_MS,
      ...(extra
        ? {
            onMessage: (streamed: unknown) => {
              relayed = true;
              const message = (streamed as { message: Record<string, unknown> }).message;
              if ('id' in message) extra.sendRequest(message);
              else extra.sendNotification(message);
            },
          }
        : {}),
    };
    const attempt = async () => {
      if (instance) {
        try {
          return await this.bus.call(this.instanceContract(instance), request, options);
        } catch (error) {
          if (!isGoneInstance(error) || !fallBack()) throw error;
        }
      }
      return await this.bus.call(UpstreamRequest, request, options);
    };
    try {
      try {
        return await attempt();
      } catch (error) {
        // a read lost with its connector mid-call is asked once more, of another one: repeating it changes nothing
        if (relayed || !repeatableAfterLoss(request, error)) throw error;
        this.log.warn(`${request.method} on ${request.server_id}: ${(error as Error).message}; sent again to another connector`);
        return await this.bus.call(UpstreamRequest, request, options);
      }
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      const jsonRpcCode = error.details?.jsonrpc_code;
      if (typeof jsonRpcCode === 'number') throw new JsonRpcError(jsonRpcCode, error.message, error.details?.data);
      throw error;
    }
  }

  private instanceContract(instance: string): ReturnType<typeof instanceUpstreamRequest> {
    let contract = this.instanceContracts.get(instance);
    if (!contract) {
      if (this.instanceContracts.size > 1000) this.instanceContracts.clear();
      this.instanceContracts.set(instance, (contract = instanceUpstreamRequest(instance)));
    }
    return contract;
  }
}

/** server_id -> tool listed only for declared capabilities -> those capabilities (memoized per catalog version). */
function capabilityOnlyTools(catalog: PreparedCatalog): Map<string, Map<string, string[]>> {
  return catalog.memoize('capability-only-tools', () => {
    const out = new Map<string, Map<string, string[]>>();
    for (const server of catalog.catalog.servers) {
      const common = new Set(server.tools.map((t) => t.name));
      for (const [feature, tools] of Object.entries(server.capability_tools ?? {})) {
        for (const tool of tools) {
          if (common.has(tool.name)) continue;
          let byTool = out.get(server.server_id);
          if (!byTool) out.set(server.server_id, (byTool = new Map()));
          byTool.set(tool.name, [...(byTool.get(tool.name) ?? []), feature]);
        }
      }
    }
    return out;
  });
}

/** A bus request to one connector instance found no one answering: that instance has stopped. */
function isGoneInstance(error: unknown): boolean {
  return error instanceof DomainError && error.code === 'UPSTREAM_UNAVAILABLE' && /no service is answering/.test(error.message);
}

function requireString(params: Record<string, unknown> | undefined, field: string): string {
  const value = params?.[field];
  if (typeof value !== 'string' || !value) throw new JsonRpcError(JsonRpcErrorCode.INVALID_PARAMS, `params.${field} must be a non-empty string`);
  return value;
}

/**
 * The Mcp-Param declarations (`x-mcp-header`) of a server's tools, only tools that have some: worked out once per
 * catalog server object (each catalog version brings new ones), not on every call.
 */
const paramDeclarations = new WeakMap<CatalogServer, Map<string, ParamHeader[]>>();
function declaredParamHeaders(server: CatalogServer, tool: string): ParamHeader[] | undefined {
  let byTool = paramDeclarations.get(server);
  if (!byTool) {
    byTool = new Map();
    for (const t of [...server.tools, ...Object.values(server.capability_tools ?? {}).flat()]) {
      const declared = paramHeaders(t.inputSchema);
      if (declared.length && !byTool.has(t.name)) byTool.set(t.name, declared);
    }
    paramDeclarations.set(server, byTool);
  }
  return byTool.get(tool);
}

/** The headers forwarded to the upstream, with the Mcp-Param-* headers of a tools/call whose tool declares some. */
function upstreamHeaders(server: CatalogServer, method: string, params: Record<string, unknown>, headers: IncomingHttpHeaders): Record<string, string> | undefined {
  const forwarded = forwardHeaders(server, headers);
  const declared = method === 'tools/call' && typeof params.name === 'string' ? declaredParamHeaders(server, params.name) : undefined;
  return declared ? { ...forwarded, ...paramHeaderValues(declared, params.arguments) } : forwarded;
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
