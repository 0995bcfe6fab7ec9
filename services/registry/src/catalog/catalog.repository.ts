import { Inject, Injectable } from '@nestjs/common';
import { CacheKeys, type Redis } from '#libs/cache';
import { Catalog, UpstreamTool } from '#libs/contracts';
import { z } from 'zod';
import { REGISTRY_REDIS } from '../tokens.js';

/** The outcome of asking one upstream for its tools, cached per server. */
export const ServerFetch = z.object({
  status: z.enum(['healthy', 'unhealthy']),
  error: z.string().nullable(),
  checked_at: z.string(),
  tools: z.array(UpstreamTool),
  protocol_version: z.string().nullable(),
});
export type ServerFetch = z.infer<typeof ServerFetch>;

/** The only place that touches Redis: the assembled catalog and each server's last fetch. */
@Injectable()
export class CatalogRepository {
  constructor(@Inject(REGISTRY_REDIS) private readonly redis: Redis) {}

  async getCatalog(): Promise<Catalog | null> {
    return parseOrNull(Catalog, await this.redis.get(CacheKeys.catalog().key));
  }

  async saveCatalog(catalog: Catalog): Promise<void> {
    const { key, ttlSeconds } = CacheKeys.catalog();
    await this.redis.set(key, JSON.stringify(catalog), 'EX', ttlSeconds);
  }

  async getFetches(serverIds: readonly string[]): Promise<Map<string, ServerFetch>> {
    const found = new Map<string, ServerFetch>();
    if (serverIds.length === 0) return found;
    const values = await this.redis.mget(...serverIds.map((id) => CacheKeys.serverTools(id).key));
    serverIds.forEach((id, i) => {
      const fetch = parseOrNull(ServerFetch, values[i] ?? null);
      if (fetch) found.set(id, fetch);
    });
    return found;
  }

  async saveFetch(serverId: string, fetch: ServerFetch): Promise<void> {
    const { key, ttlSeconds } = CacheKeys.serverTools(serverId);
    await this.redis.set(key, JSON.stringify(fetch), 'EX', ttlSeconds);
  }

  async dropFetch(serverId: string): Promise<void> {
    await this.redis.del(CacheKeys.serverTools(serverId).key);
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
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
