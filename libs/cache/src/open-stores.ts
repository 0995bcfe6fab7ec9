import { MemoryCounterStore, MemoryKeyValueStore } from './memory.stores.js';
import { RedisCounterStore, RedisKeyValueStore } from './redis.stores.js';
import type { Stores } from './stores.js';

/**
 * The process's stores: Redis when `redisUrl` is set (every replica shares them), otherwise memory (one process,
 * nothing to install). Open once per process and hand the same instance to every service in it: CacheKeys
 * namespaces the keys, so services never clash.
 */
export function openStores(options: { redisUrl?: string; prefix: string }): Stores {
  const { redisUrl, prefix } = options;
  const [kind, kv, counters] = redisUrl
    ? (['redis', new RedisKeyValueStore({ url: redisUrl, prefix }), new RedisCounterStore({ url: redisUrl, prefix })] as const)
    : (['memory', new MemoryKeyValueStore(), new MemoryCounterStore()] as const);
  return {
    kind,
    kv,
    counters,
    close: async () => {
      await Promise.all([kv.close(), counters.close()]);
    },
  };
}
