import { Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { DomainError, type CatalogServer, type Principal, type UpstreamTool } from '#libs/contracts';
import { accessServersFromCatalog, levelsFingerprint, narrowByHeader, principalAccess, type EffectiveAccess } from '#libs/permissions';
import type { PreparedCatalog } from './catalog.service.js';
import { buildAccessView, type AccessView } from './access.js';

/** A tool as the REST listings show it. */
export type RestTool = UpstreamTool & { mcp_info: { server_id: string; server_name: string; tool_name: string } };

function withCapabilityTools(server: CatalogServer): CatalogServer {
  const extra = Object.values(server.capability_tools ?? {}).flat();
  if (extra.length === 0) return server;
  const names = new Set(server.tools.map((t) => t.name));
  return { ...server, tools: [...server.tools, ...extra.filter((t) => !names.has(t.name) && names.add(t.name))] };
}

/**
 * Applies SPEC section 4's rules (libs/permissions) to the catalog for one caller. The result depends only on
 * the catalog version, the principal's permission levels and `x-mcp-servers`, so it is computed once per
 * combination and reused by every request: the hot path does a map lookup, no NATS hop.
 */
@Injectable()
export class AccessService {
  /** Principals are cached objects (PrincipalService), so their fingerprint is computed once each. */
  private readonly fingerprints = new WeakMap<Principal, string>();

  view(catalog: PreparedCatalog, principal: Principal, headers: IncomingHttpHeaders): AccessView {
    const narrowing = headers['x-mcp-servers'];
    const memoKey = `access:${this.fingerprint(principal)}:${narrowing ?? ''}`;
    return catalog.memoize(memoKey, () => buildAccessView(catalog.catalog.servers, narrowByHeader(this.effective(catalog, principal), narrowing)));
  }

  /**
   * The tools the caller may use as plain JSON (`/mcp-rest/tools/list`, the admin API's tools list): aggregate names,
   * with `mcp_info` naming the server and the upstream's own name; only `serverRef`'s when given (NOT_FOUND if unknown).
   */
  restTools(catalog: PreparedCatalog, principal: Principal, headers: IncomingHttpHeaders, serverRef: string | undefined, field = 'server_id'): RestTool[] {
    const wanted = serverRef ? catalog.server(serverRef) : undefined;
    if (serverRef && !wanted) throw new DomainError('NOT_FOUND', `unknown MCP server "${serverRef}"`, { field });
    return [...this.view(catalog, principal, headers).servers.values()]
      .filter(({ server }) => !wanted || server.server_id === wanted.server_id)
      .flatMap(({ server, tools: allowed }) =>
        allowed.map((tool) => ({
          ...tool,
          name: catalog.aggregateNames.get(server.server_id)?.get(tool.name) ?? tool.name,
          mcp_info: { server_id: server.server_id, server_name: server.server_name, tool_name: tool.name },
        })),
      );
  }

  /** Every server of the catalog with the caller's decision and its reasons (for /v1/mcp/permissions). */
  effective(catalog: PreparedCatalog, principal: Principal): EffectiveAccess {
    return catalog.memoize(`effective:${this.fingerprint(principal)}`, () =>
      // tool permissions cover every tool of a server, those listed only for a declared capability included
      principalAccess(principal, catalog.memoize('access-servers', () => accessServersFromCatalog(catalog.catalog.servers.map(withCapabilityTools)))),
    );
  }

  private fingerprint(principal: Principal): string {
    let fingerprint = this.fingerprints.get(principal);
    if (fingerprint === undefined) {
      fingerprint = levelsFingerprint(principal.levels, principal.kind === 'master');
      this.fingerprints.set(principal, fingerprint);
    }
    return fingerprint;
  }
}
