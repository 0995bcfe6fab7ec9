import { createHash } from 'node:crypto';
import { aggregateToolNames, type AggregateToolName, type Catalog, type CatalogServer, type UpstreamTool } from '#libs/contracts';
import { canonicalJson, type ServerRecord } from '../servers/server-definition.js';
import type { ServerFetch } from './catalog.repository.js';

const NOT_FETCHED: ServerFetch = { status: 'unhealthy', error: 'not fetched yet', checked_at: new Date(0).toISOString(), tools: [], protocol_version: null };

/**
 * The catalog from the servers' definitions and their last fetches. Servers that failed stay listed as
 * unhealthy with no tools; aggregate names cover healthy servers only, in (server_name, tool name) order, so
 * the naming is the same whatever order upstreams answered in.
 */
export function assembleCatalog(servers: readonly ServerRecord[], fetches: ReadonlyMap<string, ServerFetch>): Catalog {
  const sorted = [...servers].sort((a, b) => compare(a.server_name, b.server_name));
  const catalogServers: CatalogServer[] = sorted.map((server) => {
    const fetch = fetches.get(server.id) ?? NOT_FETCHED;
    const healthy = fetch.status === 'healthy';
    return {
      server_id: server.id,
      server_name: server.server_name,
      description: server.description,
      access_groups: server.access_groups,
      allow_all_keys: server.allow_all_keys,
      allowed_tools: server.allowed_tools,
      disallowed_tools: server.disallowed_tools,
      extra_headers: server.extra_headers,
      ...(server.auth_type === 'oauth2_token_exchange' ? { token_exchange: true } : {}),
      status: fetch.status,
      error: healthy ? null : (fetch.error ?? 'unavailable'),
      checked_at: fetch.checked_at,
      tools: healthy ? [...fetch.tools].sort((a, b) => compare(a.name, b.name)) : [],
      capabilities: healthy ? (fetch.capabilities ?? {}) : {},
      prompts: healthy ? [...(fetch.prompts ?? [])].sort((a, b) => compare(a.name, b.name)) : [],
      resources: healthy ? [...(fetch.resources ?? [])].sort((a, b) => compare(a.uri, b.uri)) : [],
      resource_templates: healthy ? [...(fetch.resource_templates ?? [])].sort((a, b) => compare(a.uriTemplate, b.uriTemplate)) : [],
      capability_tools: healthy ? sortedCapabilityTools(fetch.capability_tools ?? {}) : {},
      ...(healthy && fetch.cache_hints ? { cache_hints: fetch.cache_hints } : {}),
    };
  });
  const entries = catalogServers
    .filter((s) => s.status === 'healthy')
    .flatMap((s) => allToolNames(s).map((tool) => ({ server: s.server_name, server_id: s.server_id, tool })));
  const names = aggregateToolNames(entries);
  const aggregate_names: AggregateToolName[] = entries.map((e, i) => ({ name: names[i]!, server_id: e.server_id, tool: e.tool }));
  return { version: catalogVersion(catalogServers, aggregate_names), servers: catalogServers, aggregate_names };
}

/** Each catalog server's content as canonical JSON, worked out once per object (the version and the change list share it). */
const contentKeys = new WeakMap<CatalogServer, string>();

/** What clients can see of one server, as canonical JSON: its check time and error text are left out. */
export function serverContentKey(server: CatalogServer): string {
  let key = contentKeys.get(server);
  if (key === undefined) {
    const { checked_at: _c, error: _e, ...rest } = server;
    key = canonicalJson(rest);
    contentKeys.set(server, key);
  }
  return key;
}

/**
 * A short hash of what clients can see: check times and error texts are left out, so a periodic re-check that
 * finds nothing new keeps the version (and publishes nothing). The hash of canonicalJson({servers, aggregate_names}),
 * put together from the servers' keys.
 */
export function catalogVersion(servers: readonly CatalogServer[], aggregateNames: readonly AggregateToolName[]): string {
  const content = `{"aggregate_names":${canonicalJson(aggregateNames)},"servers":[${servers.map(serverContentKey).join(',')}]}`;
  return createHash('sha256').update(content).digest('hex').slice(0, 16);
}

/** Ids of servers that differ between two catalogs (added, removed or changed; check times and error texts aside). */
export function changedServerIds(previous: Catalog | null, next: Catalog): string[] {
  if (!previous) return next.servers.map((s) => s.server_id);
  const key = serverContentKey;
  const before = new Map(previous.servers.map((s) => [s.server_id, key(s)]));
  const after = new Map(next.servers.map((s) => [s.server_id, key(s)]));
  const ids = new Set<string>();
  for (const [id, k] of after) if (before.get(id) !== k) ids.add(id);
  for (const id of before.keys()) if (!after.has(id)) ids.add(id);
  return [...ids].sort();
}

/** A server's tools for every client: the common list, then those listed only for a declared capability. */
export function allToolNames(server: Pick<CatalogServer, 'tools' | 'capability_tools'>): string[] {
  const names = new Set(server.tools.map((t) => t.name));
  for (const [_, tools] of Object.entries(server.capability_tools ?? {}).sort(([a], [b]) => compare(a, b))) for (const tool of tools) names.add(tool.name);
  return [...names];
}

function sortedCapabilityTools(byCapability: Record<string, UpstreamTool[]>): Record<string, UpstreamTool[]> {
  const out: Record<string, UpstreamTool[]> = {};
  for (const capability of Object.keys(byCapability).sort()) out[capability] = [...byCapability[capability]!].sort((a, b) => compare(a.name, b.name));
  return out;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
