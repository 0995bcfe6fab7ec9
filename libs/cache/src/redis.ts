import { Redis } from 'ioredis';

/** One Redis connection per process; every key goes through CacheKeys and carries the deployment's prefix. */
export function createRedis(url: string, keyPrefix: string): Redis {
  return new Redis(url, { keyPrefix, maxRetriesPerRequest: 2, enableAutoPipelining: true, lazyConnect: false });
}

export type { Redis };
