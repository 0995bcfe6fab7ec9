import { createHash } from 'node:crypto';
import type { CatalogServer, ObjectPermission, Principal } from '#libs/contracts';

/**
 * SPEC section 4, "Effective access", in one pure function. Deny by default.
 *
 * Rules, in order:
 * 1. Each level (key, team, organization) is either set (an ObjectPermission) or not (null). A level that is not
 *    set adds no restriction. A set level allows exactly the servers in its `mcp_servers` (matched by server name
 *    or id) plus every server in one of its `mcp_access_groups`; empty lists allow nothing.
 * 2. A key may use the intersection of the servers of every set level. When no level is set, it may use no server.
 *    Servers with `allow_all_keys: true` are usable by every valid key whatever its levels say (LiteLLM's
 *    behaviour): a level's lists can neither add nor remove them; only `x-mcp-servers` narrowing can hide them.
 * 3. `mcp_tool_permissions[server]` (keyed by server name or id) at any set level restricts that server to the
 *    listed tools; several levels intersect; an empty list leaves the server usable with no tools. A tool
 *    permission never grants its server: a level whose lists exclude a server does not re-admit it by naming it in
 *    `mcp_tool_permissions` (the LiteLLM bug). Tool names may be given bare (`create_issue`) or prefixed
 *    (`github-create_issue`).
 * 4. The server's own `allowed_tools` (when set) and `disallowed_tools` apply on top, for every caller.
 * 5. The master key may use every server, still subject to rule 4.
 * Expired and blocked keys never get here: auth refuses them and the edge checks `expires` itself.
 */

export type LevelName = 'key' | 'team' | 'organization';
export const LEVEL_NAMES: readonly LevelName[] = ['key', 'team', 'organization'];

export interface AccessLevels {
  key: ObjectPermission | null;
  team: ObjectPermission | null;
  organization: ObjectPermission | null;
}

/** What the function needs of a catalog server (a CatalogServer with tools reduced to names fits). */
export interface AccessServer {
  server_id: string;
  server_name: string;
  access_groups: readonly string[];
  allow_all_keys: boolean;
  allowed_tools: readonly string[] | null;
  disallowed_tools: readonly string[] | null;
  tools: readonly string[];
}

/** The registry's catalog servers as effectiveAccess wants them (tool objects reduced to names). */
export function accessServersFromCatalog(servers: readonly CatalogServer[]): AccessServer[] {
  return servers.map((s) => ({
    server_id: s.server_id,
    server_name: s.server_name,
    access_groups: s.access_groups,
    allow_all_keys: s.allow_all_keys,
    allowed_tools: s.allowed_tools,
    disallowed_tools: s.disallowed_tools,
    tools: s.tools.map((t) => t.name),
  }));
}

/** effectiveAccess for a verified Principal against catalog servers. */
export function principalAccess(principal: Pick<Principal, 'kind' | 'levels'>, servers: readonly AccessServer[]): EffectiveAccess {
  return effectiveAccess({ levels: principal.levels, isMaster: principal.kind === 'master', servers });
}

export interface AccessInput {
  levels: AccessLevels;
  isMaster: boolean;
  servers: readonly AccessServer[];
}

/** Who removed a server: a level, "no level is set", or the x-mcp-servers header. */
export type ServerRemoval =
  | { level: LevelName; reason: 'not_in_mcp_servers_or_access_groups' }
  | { level: 'default'; reason: 'no_level_set' }
  | { level: 'header'; reason: 'not_in_x_mcp_servers' };

/** Who removed a tool of a usable server: a level's tool permissions, or the server's own filters. */
export type ToolRemoval =
  | { level: LevelName; reason: 'not_in_mcp_tool_permissions' }
  | { level: 'server'; reason: 'not_in_allowed_tools' | 'in_disallowed_tools' };

export interface ServerAccess {
  server_id: string;
  server_name: string;
  allowed: boolean;
  /** Why the server is usable (for explanation): the levels that admit it, 'allow_all_keys' or 'master'. */
  granted_by: readonly (LevelName | 'allow_all_keys' | 'master')[];
  /** Every level that removed it (empty when allowed). */
  removed_by: readonly ServerRemoval[];
  /** Usable tool names (bare, as the upstream names them); empty when the server is not allowed. */
  tools: ReadonlySet<string>;
  /** Every tool of an allowed server that was taken away, with each reason. */
  removed_tools: ReadonlyMap<string, readonly ToolRemoval[]>;
}

export interface EffectiveAccess {
  isMaster: boolean;
  /**
   * Stable hash of the result (allowed server ids and their tools, order-independent): two principals with the
   * same fingerprint see exactly the same tools, so the edge can cache prepared tool lists per fingerprint.
   */
  fingerprint: string;
  /** Every server of the input, allowed or not, in input order (for `GET /v1/mcp/permissions`). */
  servers: readonly ServerAccess[];
  /** Allowed servers by id and by name (O(1) on the hot path). */
  allowedById: ReadonlyMap<string, ServerAccess>;
  allowedByName: ReadonlyMap<string, ServerAccess>;
}

/** Is this server (name or id) usable? */
export function canUseServer(access: EffectiveAccess, server: string): boolean {
  return access.allowedByName.has(server) || access.allowedById.has(server);
}

/** Is this bare tool of this server (name or id) usable? Listing and calling use the same answer. */
export function canCallTool(access: EffectiveAccess, server: string, tool: string): boolean {
  const entry = access.allowedByName.get(server) ?? access.allowedById.get(server);
  return entry !== undefined && entry.tools.has(tool);
}

function levelAdmits(level: ObjectPermission, server: AccessServer): boolean {
  if (level.mcp_servers.includes(server.server_name) || level.mcp_servers.includes(server.server_id)) return true;
  return server.access_groups.some((group) => level.mcp_access_groups.includes(group));
}

/** The tool list a level sets for this server, or undefined when it sets none (name and id entries intersect). */
function levelToolList(level: ObjectPermission, server: AccessServer): Set<string> | undefined {
  const lists = [level.mcp_tool_permissions[server.server_name], level.mcp_tool_permissions[server.server_id]].filter(
    (l): l is string[] => Array.isArray(l),
  );
  if (lists.length === 0) return undefined;
  const prefix = `${server.server_name}-`;
  const normalize = (list: string[]) => new Set(list.map((t) => (t.startsWith(prefix) && !server.tools.includes(t) ? t.slice(prefix.length) : t)));
  const [first, ...rest] = lists.map(normalize);
  return rest.reduce((acc, s) => new Set([...acc].filter((t) => s.has(t))), first!);
}

function toolListIncludes(list: readonly string[], server: AccessServer, tool: string): boolean {
  return list.includes(tool) || list.includes(`${server.server_name}-${tool}`);
}

export function effectiveAccess(input: AccessInput): EffectiveAccess {
  const setLevels = LEVEL_NAMES.filter((name) => input.levels[name] !== null).map((name) => [name, input.levels[name]!] as const);
  const servers = input.servers.map((server): ServerAccess => {
    const removedBy: ServerRemoval[] = [];
    const grantedBy: (LevelName | 'allow_all_keys' | 'master')[] = [];
    if (input.isMaster) grantedBy.push('master');
    else if (server.allow_all_keys) grantedBy.push('allow_all_keys');
    else if (setLevels.length === 0) removedBy.push({ level: 'default', reason: 'no_level_set' });
    else {
      for (const [name, level] of setLevels) {
        if (levelAdmits(level, server)) grantedBy.push(name);
        else removedBy.push({ level: name, reason: 'not_in_mcp_servers_or_access_groups' });
      }
    }
    const allowed = removedBy.length === 0;
    const tools = new Set<string>();
    const removedTools = new Map<string, ToolRemoval[]>();
    if (allowed) {
      const levelLists = input.isMaster
        ? []
        : setLevels.map(([name, level]) => [name, levelToolList(level, server)] as const).filter(([, l]) => l !== undefined);
      for (const tool of server.tools) {
        const reasons: ToolRemoval[] = [];
        for (const [name, list] of levelLists) if (!list!.has(tool)) reasons.push({ level: name, reason: 'not_in_mcp_tool_permissions' });
        if (server.allowed_tools && !toolListIncludes(server.allowed_tools, server, tool)) reasons.push({ level: 'server', reason: 'not_in_allowed_tools' });
        if (server.disallowed_tools && toolListIncludes(server.disallowed_tools, server, tool)) reasons.push({ level: 'server', reason: 'in_disallowed_tools' });
        if (reasons.length === 0) tools.add(tool);
        else removedTools.set(tool, reasons);
      }
    }
    return {
      server_id: server.server_id,
      server_name: server.server_name,
      allowed,
      granted_by: allowed ? grantedBy : [],
      removed_by: removedBy,
      tools,
      removed_tools: removedTools,
    };
  });
  return assemble(input.isMaster, servers);
}

function assemble(isMaster: boolean, servers: ServerAccess[]): EffectiveAccess {
  const allowedById = new Map<string, ServerAccess>();
  const allowedByName = new Map<string, ServerAccess>();
  for (const s of servers) {
    if (!s.allowed) continue;
    allowedById.set(s.server_id, s);
    allowedByName.set(s.server_name, s);
  }
  return { isMaster, fingerprint: fingerprintOf(allowedById), servers, allowedById, allowedByName };
}

function fingerprintOf(allowed: ReadonlyMap<string, ServerAccess>): string {
  const canonical = [...allowed.values()]
    .map((s) => [s.server_id, [...s.tools].sort()] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 32);
}

/**
 * `x-mcp-servers: a,b` (names or ids, comma-separated; a string or the header's array form) only narrows:
 * servers it does not name become not allowed (level 'header'), names it gives that are not allowed stay not
 * allowed. An absent or empty header changes nothing and returns `access` itself.
 */
export function narrowByHeader(access: EffectiveAccess, xMcpServers: string | readonly string[] | null | undefined): EffectiveAccess {
  const raw = typeof xMcpServers === 'string' ? [xMcpServers] : (xMcpServers ?? []);
  const wanted = new Set(raw.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean));
  if (wanted.size === 0) return access;
  const servers = access.servers.map((s): ServerAccess => {
    if (!s.allowed || wanted.has(s.server_name) || wanted.has(s.server_id)) return s;
    return { ...s, allowed: false, granted_by: [], removed_by: [{ level: 'header', reason: 'not_in_x_mcp_servers' }], tools: new Set(), removed_tools: new Map() };
  });
  return assemble(access.isMaster, servers);
}

/**
 * Stable hash of a principal's permission inputs (levels and master flag), usable as a cache key for an
 * EffectiveAccess before computing it (together with the catalog version).
 */
export function levelsFingerprint(levels: AccessLevels, isMaster: boolean): string {
  const canon = (p: ObjectPermission | null) =>
    p === null
      ? null
      : {
          s: [...p.mcp_servers].sort(),
          g: [...p.mcp_access_groups].sort(),
          t: Object.keys(p.mcp_tool_permissions)
            .sort()
            .map((k) => [k, [...p.mcp_tool_permissions[k]!].sort()]),
        };
  const body = JSON.stringify([isMaster, canon(levels.key), canon(levels.team), canon(levels.organization)]);
  return createHash('sha256').update(body).digest('hex').slice(0, 32);
}

/** JSON form of an EffectiveAccess for `GET /v1/mcp/permissions?key=` (Sets and Maps spelled out). */
export interface AccessExplanation {
  is_master: boolean;
  fingerprint: string;
  servers: {
    server_id: string;
    server_name: string;
    allowed: boolean;
    granted_by: string[];
    removed_by: ServerRemoval[];
    tools: string[];
    removed_tools: { tool: string; removed_by: ToolRemoval[] }[];
  }[];
}

export function explainAccess(access: EffectiveAccess): AccessExplanation {
  return {
    is_master: access.isMaster,
    fingerprint: access.fingerprint,
    servers: access.servers.map((s) => ({
      server_id: s.server_id,
      server_name: s.server_name,
      allowed: s.allowed,
      granted_by: [...s.granted_by],
      removed_by: [...s.removed_by],
      tools: [...s.tools],
      removed_tools: [...s.removed_tools].map(([tool, removedBy]) => ({ tool, removed_by: [...removedBy] })),
    })),
  };
}
