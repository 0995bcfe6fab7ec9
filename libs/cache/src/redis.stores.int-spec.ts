import { describe, expect, it } from 'vitest';
import { TEST_REDIS_URL, uniqueId } from '#libs/testing';
import { openStores } from './open-stores.js';
import { deleteRedisKeys, RedisCounterStore, RedisKeyValueStore, type RedisStoreOptions } from './redis.stores.js';
import { describeCounterStoreContract, describeKeyValueStoreContract, type StoreFixture } from './stores.contract.js';

/** Stores on the machine's Redis under a prefix of their own, deleted with everything under it at the end. */
function redisFixture<S extends { close(): Promise<void> }>(open: (options: RedisStoreOptions) => S): StoreFixture<S> {
  const options = { url: TEST_REDIS_URL, prefix: `${uniqueId('test_stores_')}:` };
  const opened: S[] = [];
  return {
    connect: async () => {
      const store = open(options);
      opened.push(store);
      return store;
    },
    close: async () => {
      await deleteRedisKeys(options.url, options.prefix);
      await Promise.all(opened.map((store) => store.close()));
    },
  };
}

describeKeyValueStoreContract('Redis (the machine’s redis-server)', async () => redisFixture((o) => new RedisKeyValueStore(o)));
describeCounterStoreContract('Redis (the machine’s redis-server)', async () => redisFixture((o) => new RedisCounterStore(o)));

describe('Redis stores', () => {
  it('are what openStores gives with a Redis URL, each key under the prefix', async () => {
    const prefix = `${uniqueId('test_stores_')}:`;
    const stores = openStores({ redisUrl: TEST_REDIS_URL, prefix });
    try {
      expect(stores.kind).toBe('redis');
      await stores.kv.set('a', '1', 60);
      await stores.counters.increment('b', 60);
      expect(await deleteRedisKeys(TEST_REDIS_URL, prefix)).toBe(2);
      expect(await stores.kv.get('a')).toBeNull();
    } finally {
      await stores.close();
    }
  });

  it('answer a ping with false when Redis is unreachable', async () => {
    const store = new RedisKeyValueStore({ url: 'redis://127.0.0.1:1', prefix: 'unused:' });
    try {
      expect(await store.ping()).toBe(false);
    } finally {
      await store.close();
    }
  });
});
