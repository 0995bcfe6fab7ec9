import { Inject, Injectable } from '@nestjs/common';
import { CacheKeys, KeyValueStore } from '#libs/cache';
import { CacheHints, Catalog, UpstreamPrompt, UpstreamResource, UpstreamResourceTemplate, UpstreamTool } from '#libs/contracts';
import { z } from 'zod';

/** The outcome of asking one upstream for its tools, cached per server. */
export const ServerFetch = z.object({
  status: z.enum(['healthy', 'unhealthy']),
  error: z.string().nullable(),
  checked_at: z.string(),
  tools: z.array(UpstreamTool),
  protocol_version: z.string().nullable(),
  capabilities: z.record(z.string(), z.unknown()).default({}),
  prompts: z.array(UpstreamPrompt).default([]),
  resources: z.array(UpstreamResource).default([]),
  resource_templates: z.array(UpstreamResourceTemplate).default([]),
  capability_tools: z.record(z.string(), z.array(UpstreamTool)).default({}),
  /** The hints a 2026-07-28 upstream gave its lists (absent for 2025-era ones): also when they are fetched again. */
  cache_hints: CacheHints.optional(),
});
export type ServerFetch = z.input<typeof ServerFetch>;

/** A fetch as this replica stored it: the text and the object it is the JSON of (defaults filled in). */
export interface SavedFetch {
  text: string;
  fetch: ServerFetch;
}

/** The only place that touches the cache store: the assembled catalog and each server's last fetch. */
@Injectable()
export class CatalogRepository {
  constructor(@Inject(KeyValueStore) private readonly store: KeyValueStore) {}

  /**
   * The stored catalog. With `known` (the catalog this replica last saved), an entry of the same version is taken to
   * be that one without parsing it (another replica's copy of a version differs in check times and error texts at most).
   */
  async getCatalog(known?: Catalog): Promise<Catalog | null> {
    const text = await this.store.get(CacheKeys.catalog().key);
    if (known && text?.startsWith(`{"version":${JSON.stringify(known.version)},`)) return known;
    return parseOrNull(Catalog, text);
  }

  /** Stores the catalog; resolves with its JSON text. */
  async saveCatalog(catalog: Catalog): Promise<string> {
    const { key, ttlSeconds } = CacheKeys.catalog();
    const text = JSON.stringify(catalog);
    await this.store.set(key, text, ttlSeconds);
    return text;
  }

  /**
   * The stored fetches. An entry whose text is the very one this replica saved (`known`, by server id) is taken as
   * that object instead of being parsed again.
   */
  async getFetches(serverIds: readonly string[], known?: ReadonlyMap<string, SavedFetch>): Promise<Map<string, ServerFetch>> {
    const found = new Map<string, ServerFetch>();
    const values = await this.store.getMany(serverIds.map((id) => CacheKeys.serverTools(id).key));
    serverIds.forEach((id, i) => {
      const text = values[i] ?? null;
      const saved = known?.get(id);
      const fetch = saved && text === saved.text ? saved.fetch : parseOrNull(ServerFetch, text);
      if (fetch) found.set(id, fetch);
    });
    return found;
  }

  /** Stores one server's fetch; resolves with what was stored (for getFetches' `known`). */
  async saveFetch(serverId: string, fetch: ServerFetch): Promise<SavedFetch> {
    const { key, ttlSeconds } = CacheKeys.serverTools(serverId);
    const text = JSON.stringify(fetch);
    await this.store.set(key, text, ttlSeconds);
    return { text, fetch }; // as parsing `text` would give: its lists come parsed by the same schemas
  }

  async dropFetch(serverId: string): Promise<void> {
    await this.store.delete(CacheKeys.serverTools(serverId).key);
  }

  ping(): Promise<boolean> {
    return this.store.ping();
  }
}

function parseOrNull<S extends z.ZodType>(schema: S, text: string | null): z.infer<S> | null {
  if (!text) return null;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null; // an entry written by another version is rebuilt, not trusted
  } catch {
    return null;
  }
}
