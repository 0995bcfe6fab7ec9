import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { CounterStore, KeyValueStore, ttlMilliseconds } from './stores.js';

export interface RedisStoreOptions {
  url: string;
  /** Put in front of every key (REDIS_PREFIX), so that deployments and test runs can share one Redis. */
  prefix: string;
}

const PING_TIMEOUT_MS = 1_000;
const log = new Logger('RedisStore');

/** A store's own connection; the key prefix is applied by ioredis to every command, scripts' KEYS included. */
function connect({ url, prefix }: RedisStoreOptions): Redis {
  const redis = new Redis(url, { keyPrefix: prefix, maxRetriesPerRequest: 2, enableAutoPipelining: true, lazyConnect: false });
  // ioredis retries on its own and reports every failed attempt: log the first of an outage and the recovery.
  let failing = false;
  redis.on('error', (error: Error) => {
    if (!failing) log.warn(`Redis unreachable, retrying: ${error.message}`);
    failing = true;
  });
  redis.on('ready', () => {
    if (failing) log.log('Redis reachable again');
    failing = false;
  });
  return redis;
}

async function quit(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  await redis.quit().catch(() => redis.disconnect());
}

// Remove the key only while it holds ARGV[1] (a lock's holder releasing it). Returns 1 when removed.
const DELETE_IF_EQUALS_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// Read and remove in one step (single-use entries).
const TAKE_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v`;

/** KeyValueStore on Redis, shared by every replica. */
export class RedisKeyValueStore extends KeyValueStore {
  private readonly redis: Redis;

  constructor(options: RedisStoreOptions) {
    super();
    this.redis = connect(options);
  }

  async get(key: string): Promise<string | null> {
    return this.redis.get(key);
  }

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return []; // MGET with no key is an error
    return this.redis.mget(...keys);
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(key, value, 'PX', ttlMilliseconds(ttlSeconds));
  }

  async expire(key: string, ttlSeconds: number): Promise<boolean> {
    return (await this.redis.pexpire(key, ttlMilliseconds(ttlSeconds))) === 1;
  }

  async delete(key: string): Promise<boolean> {
    return (await this.redis.del(key)) > 0;
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    return (await this.redis.set(key, value, 'PX', ttlMilliseconds(ttlSeconds), 'NX')) === 'OK';
  }

  async deleteIfEquals(key: string, value: string): Promise<boolean> {
    return (await this.redis.eval(DELETE_IF_EQUALS_SCRIPT, 1, key, value)) === 1;
  }

  async take(key: string): Promise<string | null> {
    // GETDEL needs Redis 6.2; a script does the same on any version
    return (await this.redis.eval(TAKE_SCRIPT, 1, key)) as string | null;
  }

  async ping(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS)));
    const answer = this.redis.ping().then(
      (reply) => reply === 'PONG',
      () => false,
    );
    return Promise.race([answer, timeout]).finally(() => clearTimeout(timer));
  }

  async close(): Promise<void> {
    await quit(this.redis);
  }
}

// Each script runs atomically in Redis: one round trip, and no other client sees a half-done change.
// TTLs are passed in milliseconds.

// INCR the window's counter; the first hit sets the TTL. Returns the count.
const INCREMENT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

// Take a slot unless all are taken (then give it back). Returns {taken(0|1), in_flight}.
const ACQUIRE_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return {0, n - 1}
end
return {1, n}`;

// Give a slot back, never below zero.
const RELEASE_SCRIPT = `
local n = redis.call('DECR', KEYS[1])
if n < 0 then redis.call('SET', KEYS[1], 0, 'PX', ARGV[1]) return 0 end
return n`;

/** CounterStore on Redis: counts shared by every replica. */
export class RedisCounterStore extends CounterStore {
  private readonly redis: Redis;

  constructor(options: RedisStoreOptions) {
    super();
    this.redis = connect(options);
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    return Number(await this.redis.eval(INCREMENT_SCRIPT, 1, key, ttlMilliseconds(ttlSeconds)));
  }

  async acquire(key: string, max: number, ttlSeconds: number): Promise<{ taken: boolean; inFlight: number }> {
    const [taken, inFlight] = (await this.redis.eval(ACQUIRE_SCRIPT, 1, key, max, ttlMilliseconds(ttlSeconds))) as [number, number];
    return { taken: Number(taken) === 1, inFlight: Number(inFlight) };
  }

  async release(key: string, ttlSeconds: number): Promise<number> {
    return Number(await this.redis.eval(RELEASE_SCRIPT, 1, key, ttlMilliseconds(ttlSeconds)));
  }

  async close(): Promise<void> {
    await quit(this.redis);
  }
}

/** Deletes every key under `prefix` (test runs clean up after themselves). Returns how many went. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<number> {
  if (!prefix) throw new Error('deleteRedisKeys needs a prefix: it would empty the whole Redis');
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      if (keys.length > 0) deleted += await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await quit(redis);
  }
  return deleted;
}
