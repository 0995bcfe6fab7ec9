import { z } from 'zod';
import { defineContract, defineEvent } from '../contract.js';
import { Subjects } from '../subjects.js';

/** An MCP Tool exactly as the upstream described it (kept as data, never rebuilt per request). */
export const UpstreamTool = z.looseObject({ name: z.string(), inputSchema: z.looseObject({}) });
export type UpstreamTool = z.infer<typeof UpstreamTool>;

/** A prompt, resource or resource template as the upstream described it (kept as data). */
export const UpstreamPrompt = z.looseObject({ name: z.string() });
export const UpstreamResource = z.looseObject({ uri: z.string(), name: z.string().optional() });
export const UpstreamResourceTemplate = z.looseObject({ uriTemplate: z.string(), name: z.string().optional() });
export type UpstreamPrompt = z.infer<typeof UpstreamPrompt>;
export type UpstreamResource = z.infer<typeof UpstreamResource>;
export type UpstreamResourceTemplate = z.infer<typeof UpstreamResourceTemplate>;

/**
 * Cache hints an upstream speaking 2026-07-28 gave its lists and reads (method -> hint): how long a result stays
 * good and whether a cache may share it between users. None for 2025-era upstreams.
 */
export const CacheHints = z.record(z.string(), z.object({ ttl_ms: z.number().int().min(0), scope: z.enum(['public', 'private']) }));
export type CacheHints = z.infer<typeof CacheHints>;

/** One server's part of the catalog, with what the edge needs to filter it without another hop. */
export const CatalogServer = z.object({
  server_id: z.string(),
  server_name: z.string(),
  description: z.string().nullable(),
  access_groups: z.array(z.string()),
  allow_all_keys: z.boolean(),
  allowed_tools: z.array(z.string()).nullable(),
  disallowed_tools: z.array(z.string()).nullable(),
  extra_headers: z.array(z.string()),
  /** auth_type oauth2_token_exchange: requests carry the caller's OAuth token to the connector to be exchanged. */
  token_exchange: z.boolean().optional(),
  status: z.enum(['healthy', 'unhealthy']),
  error: z.string().nullable(),
  checked_at: z.string(),
  tools: z.array(UpstreamTool),
  /** What the upstream serves besides tools (its initialize capabilities), and its lists. */
  capabilities: z.record(z.string(), z.unknown()).optional(),
  prompts: z.array(UpstreamPrompt).optional(),
  resources: z.array(UpstreamResource).optional(),
  resource_templates: z.array(UpstreamResourceTemplate).optional(),
  /** Tools listed only to clients declaring one capability (sampling, elicitation, roots): name -> extra tools. */
  capability_tools: z.record(z.string(), z.array(UpstreamTool)).optional(),
  /**
   * Cache hints an upstream speaking 2026-07-28 gave its lists (method -> hint); none for 2025-era upstreams,
   * whose lists the gateway vouches for itself.
   */
  cache_hints: CacheHints.optional(),
});
export type CatalogServer = z.infer<typeof CatalogServer>;

/** A tool's name on the aggregate endpoint (`{server}-{tool}`, made unique and at most 64 characters). */
export const AggregateToolName = z.object({ name: z.string(), server_id: z.string(), tool: z.string() });
export type AggregateToolName = z.infer<typeof AggregateToolName>;

export const Catalog = z.object({
  /** Changes whenever anything in the catalog changes; the edge caches prepared lists per version. */
  version: z.string(),
  servers: z.array(CatalogServer),
  aggregate_names: z.array(AggregateToolName),
});
export type Catalog = z.infer<typeof Catalog>;

export const GetCatalog = defineContract('GetCatalog', Subjects.registry.getCatalog, z.object({}), Catalog);

/**
 * A new catalog version. It carries the catalog itself when that fits in one event (the bus's event limit), so
 * edges take it without asking GetCatalog; without it they ask.
 */
export const CatalogChanged = defineEvent(
  'CatalogChanged',
  Subjects.registry.catalogChanged,
  z.object({ version: z.string(), server_ids: z.array(z.string()), catalog: Catalog.optional() }),
);
