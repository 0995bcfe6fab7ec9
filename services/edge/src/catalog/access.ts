import type { CatalogServer, UpstreamTool } from '#libs/contracts';
import type { EffectiveAccess } from '#libs/permissions';

/** What one caller may use right now: the healthy servers of its effective access, with their usable tools. */
export interface AccessView {
  /** Equal for equal tool sets: prepared lists are cached under it. */
  fingerprint: string;
  effective: EffectiveAccess;
  servers: Map<string, { server: CatalogServer; tools: UpstreamTool[]; toolNames: ReadonlySet<string> }>;
}

/** Joins an EffectiveAccess with the catalog's tool definitions; servers that are down contribute nothing. */
export function buildAccessView(servers: readonly CatalogServer[], effective: EffectiveAccess): AccessView {
  const view: AccessView = { fingerprint: effective.fingerprint, effective, servers: new Map() };
  for (const server of servers) {
    const access = effective.allowedById.get(server.server_id);
    if (!access || server.status !== 'healthy') continue;
    const tools = server.tools.filter((t) => access.tools.has(t.name));
    view.servers.set(server.server_id, { server, tools, toolNames: access.tools });
  }
  return view;
}
