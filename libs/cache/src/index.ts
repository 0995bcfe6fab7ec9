export * from './cache-keys.js';
export { KeyValueStore, CounterStore, type Stores } from './stores.js';
export { MemoryKeyValueStore, MemoryCounterStore, type MemoryStoreOptions } from './memory.stores.js';
export { RedisKeyValueStore, RedisCounterStore, deleteRedisKeys, type RedisStoreOptions } from './redis.stores.js';
export * from './open-stores.js';
