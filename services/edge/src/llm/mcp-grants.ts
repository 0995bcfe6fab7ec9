import { Inject, Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { DomainError, McpToolParam, type GrantedTool, type LlmCaller, type McpGrant, type Principal } from '#libs/contracts';
import { extractApiKey } from '../auth/credentials.js';
import { PrincipalService } from '../auth/principal.service.js';
import { AccessService } from '../catalog/access.service.js';
import { CatalogService, type PreparedCatalog } from '../catalog/catalog.service.js';
import { UpstreamUrlGuard, UpstreamUrlRefused } from '#libs/net-guard';
import { EDGE_SETTINGS, type EdgeSettings } from '../edge-settings.js';
import { forwardHeaders } from '../mcp/mcp.dispatcher.js';

/** Where an MCP entry's `server_url` points: every server the key may use, one of them, or an allowed remote server. */
type Scope = { kind: 'aggregate' } | { kind: 'server'; name: string } | { kind: 'remote'; url: string };

const PROXY_ALIAS = /^litellm_proxy(?:\/mcp(?:\/([^/]+))?)?\/?$/;
const MCP_PATH = /^\/(?:mcp(?:\/([^/]+))?|([^/]+)\/mcp)\/?$/;

/**
 * Decides, at the edge, which catalog tools each `{"type": "mcp"}` entry of an LLM request may offer: the same
 * effective permissions as `/mcp` (SPEC section 4, cached here, no extra hop), narrowed by `x-mcp-servers`, the
 * entry's server and `allowed_tools`. llm-proxy receives the result and can call nothing else.
 * Tools are used as the request's key, or as the gateway key an entry's `headers` carry (the MCP connection's
 * own credentials, as in LiteLLM's examples). Another MCP server is allowed only when
 * general_settings.allowed_remote_mcp_server_urls names it and the upstream URL rules (SPEC section 2) pass.
 */
@Injectable()
export class McpGrants {
  private readonly remoteUrls: ReadonlySet<string>;
  private readonly guard: UpstreamUrlGuard;

  constructor(
    @Inject(CatalogService) private readonly catalogs: CatalogService,
    @Inject(AccessService) private readonly access: AccessService,
    @Inject(PrincipalService) private readonly principals: PrincipalService,
    @Inject(EDGE_SETTINGS) settings: EdgeSettings,
  ) {
    const general = settings.file.config.general_settings;
    this.remoteUrls = new Set((general.allowed_remote_mcp_server_urls ?? []).map(normalizeUrl));
    this.guard = new UpstreamUrlGuard({ blocked: general.mcp_blocked_ip_ranges, allowed: general.mcp_allowed_ip_ranges });
  }

  /** One grant per MCP entry of `tools`; a malformed entry or a server_url that is not this gateway is a 400 naming it. */
  async resolve(tools: unknown, principal: Principal, requestHeaders: IncomingHttpHeaders): Promise<McpGrant[]> {
    const grants: McpGrant[] = [];
    if (!Array.isArray(tools)) return grants;
    let catalog: PreparedCatalog | undefined;
    for (const [index, tool] of tools.entries()) {
      if ((tool as { type?: unknown })?.type !== 'mcp') continue;
      const parsed = McpToolParam.safeParse(tool);
      if (!parsed.success) continue; // llm-proxy refuses the request, naming the field
      const entry = parsed.data;
      if (entry.connector_id) throw invalid(`tools[${index}].connector_id`, `tools[${index}].connector_id: OpenAI connectors are not available here; use server_url "litellm_proxy"`);
      const scope = this.scopeOf(entry.server_url ?? 'litellm_proxy', index, requestHeaders);
      if (scope.kind === 'remote') {
        await this.assertReachable(scope.url, index);
        grants.push({ index, tools: [], forward_headers: {}, remote_url: scope.url });
        continue;
      }
      const headers = mergeHeaders(requestHeaders, entry.headers ?? {});
      const caller = entry.headers && extractApiKey(lowerCased(entry.headers)) ? await this.principals.authenticate(lowerCased(entry.headers)) : principal;
      catalog ??= await this.catalogs.current();
      grants.push({ index, ...this.grant(catalog, caller, headers, scope, entry, index), ...(caller !== principal ? { caller: llmCaller(caller) } : {}) });
    }
    return grants;
  }

  private grant(catalog: PreparedCatalog, principal: Principal, headers: IncomingHttpHeaders, scope: Exclude<Scope, { kind: 'remote' }>, entry: McpToolParam, index: number): Omit<McpGrant, 'index'> {
    const view = this.access.view(catalog, principal, headers);
    let only: string | undefined;
    if (scope.kind === 'server') {
      const server = catalog.server(scope.name);
      if (!server) throw invalid(`tools[${index}].server_url`, `tools[${index}].server_url: unknown MCP server "${scope.name}"`);
      if (!view.effective.allowedById.has(server.server_id)) throw new DomainError('PERMISSION_DENIED', `this key may not use MCP server "${scope.name}"`, { param: `tools[${index}].server_url` });
      only = server.server_id;
    }
    const wanted = allowedNames(entry.allowed_tools);
    const readOnly = !Array.isArray(entry.allowed_tools) && entry.allowed_tools?.read_only === true;
    const tools: GrantedTool[] = [];
    const forward: McpGrant['forward_headers'] = {};
    for (const { server, tools: usable } of view.servers.values()) {
      if (only && server.server_id !== only) continue;
      const names = catalog.aggregateNames.get(server.server_id);
      for (const tool of usable) {
        const name = scope.kind === 'server' ? tool.name : names?.get(tool.name);
        if (!name) continue;
        if (wanted && !wanted.has(name) && !wanted.has(tool.name)) continue;
        const annotations = (tool.annotations as Record<string, unknown> | undefined) ?? null;
        if (readOnly && annotations?.readOnlyHint !== true) continue;
        tools.push({
          name,
          server_id: server.server_id,
          server_name: server.server_name,
          tool: tool.name,
          description: typeof tool.description === 'string' ? tool.description : null,
          input_schema: tool.inputSchema,
          annotations,
        });
      }
      const headersOut = forwardHeaders(server, headers);
      if (headersOut) forward[server.server_id] = headersOut;
    }
    return { tools, forward_headers: forward };
  }

  /** `litellm_proxy[/mcp[/{server}]]` or this gateway's own `…/mcp[/{server}]` (or `/{server}/mcp`) URL. */
  private scopeOf(serverUrl: string, index: number, headers: IncomingHttpHeaders): Scope {
    const alias = PROXY_ALIAS.exec(serverUrl);
    if (alias) return alias[1] ? { kind: 'server', name: decodeURIComponent(alias[1]) } : { kind: 'aggregate' };
    let url: URL | undefined;
    try {
      url = new URL(serverUrl);
    } catch {
      /* not a URL: refused below */
    }
    const path = url && isThisGateway(url, headers) ? MCP_PATH.exec(url.pathname) : null;
    if (path) {
      const server = path[1] ?? path[2];
      return server ? { kind: 'server', name: decodeURIComponent(server) } : { kind: 'aggregate' };
    }
    if (url && this.remoteUrls.has(normalizeUrl(serverUrl))) return { kind: 'remote', url: serverUrl };
    throw invalid(
      `tools[${index}].server_url`,
      `tools[${index}].server_url: "${serverUrl}" is neither this gateway's MCP endpoint ("litellm_proxy", "litellm_proxy/mcp/{server}", this gateway's /mcp URL) nor in general_settings.allowed_remote_mcp_server_urls`,
    );
  }

  /** The upstream URL rules (http(s), never metadata or link-local addresses, mcp_blocked_ip_ranges). */
  private async assertReachable(url: string, index: number): Promise<void> {
    try {
      await this.guard.check(url);
    } catch (error) {
      if (!(error instanceof UpstreamUrlRefused)) throw error;
      throw invalid(`tools[${index}].server_url`, `tools[${index}].server_url: ${error.message}`);
    }
  }
}

/** A URL naming the host the request came to (Host or X-Forwarded-Host), on a path of ours. */
function isThisGateway(url: URL, headers: IncomingHttpHeaders): boolean {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const hosts = [headers.host, headers['x-forwarded-host']].flatMap((h) => (typeof h === 'string' ? h.split(',') : [])).map((h) => h.trim().toLowerCase());
  return hosts.includes(url.host.toLowerCase());
}

function normalizeUrl(url: string): string {
  return url.trim().replace(/\/+$/, '');
}

function allowedNames(allowed: McpToolParam['allowed_tools']): Set<string> | undefined {
  if (!allowed) return undefined;
  const names = Array.isArray(allowed) ? allowed : allowed.tool_names;
  return names ? new Set(names) : undefined;
}

function lowerCased(headers: Record<string, string>): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** The entry's headers over the request's: `x-mcp-servers` and `x-mcp-{server}-authorization` may come from either. */
function mergeHeaders(request: IncomingHttpHeaders, entry: Record<string, string>): IncomingHttpHeaders {
  return { ...request, ...lowerCased(entry) };
}

function invalid(param: string, message: string): DomainError {
  return new DomainError('INVALID_ARGUMENT', message, { param, type: 'invalid_request_error' });
}

/** What llm-proxy learns of a principal: enough to audit and account, never the key. */
export function llmCaller(principal: Principal): LlmCaller {
  return {
    token_hash: principal.token_hash,
    key_alias: principal.key_alias,
    user_id: principal.user_id,
    team_id: principal.team_id,
    organization_id: principal.organization_id,
  };
}
