import type { CatalogServer, Principal, UpstreamTool } from '#libs/contracts';

/** What one caller may use: per server, the tool names allowed (already filtered by every rule). */
export interface AccessView {
  /** Stable for equal permission sets: prepared lists are cached under it. */
  fingerprint: string;
  servers: Map<string, { server: CatalogServer; tools: UpstreamTool[]; toolNames: Set<string> }>;
}

/** The server's own allowed_tools / disallowed_tools. */
export function serverAllowsTool(server: CatalogServer, tool: string): boolean {
  if (server.allowed_tools) return server.allowed_tools.includes(tool);
  if (server.disallowed_tools) return !server.disallowed_tools.includes(tool);
  return true;
}

export type ServerPredicate = (server: CatalogServer) => { allowed: boolean; tools?: ReadonlySet<string> | null };

/** Builds the view from a per-server decision; only healthy servers contribute tools. */
export function buildAccessView(servers: readonly CatalogServer[], decide: ServerPredicate, fingerprint: string): AccessView {
  const view: AccessView = { fingerprint, servers: new Map() };
  for (const server of servers) {
    if (server.status !== 'healthy') continue;
    const decision = decide(server);
    if (!decision.allowed) continue;
    const tools = server.tools.filter((t) => serverAllowsTool(server, t.name) && (!decision.tools || decision.tools.has(t.name)));
    view.servers.set(server.server_id, { server, tools, toolNames: new Set(tools.map((t) => t.name)) });
  }
  return view;
}

/** The servers named in `x-mcp-servers` (names or ids); it only ever narrows. */
export function parseServerNarrowing(header: string | string[] | undefined): Set<string> | null {
  if (!header) return null;
  const values = (Array.isArray(header) ? header.join(',') : header)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return values.length ? new Set(values) : null;
}

export function masterDecision(): ServerPredicate {
  return () => ({ allowed: true });
}

export function principalFingerprint(principal: Principal): string {
  return principal.kind === 'master' ? 'master' : JSON.stringify(principal.levels);
}
