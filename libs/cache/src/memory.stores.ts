import { CounterStore, KeyValueStore, ttlMilliseconds } from './stores.js';

export interface MemoryStoreOptions {
  /** How often expired entries nobody reads again are dropped (default 30 s). */
  sweepIntervalMs?: number;
}

/**
 * A Map whose entries carry an expiry time. Expired entries are dropped when read and by a periodic sweep, so
 * memory stays bounded by what is live; the sweep timer is unref'd and never keeps the process alive.
 */
class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(sweepIntervalMs = 30_000) {
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  get size(): number {
    return this.entries.size;
  }

  /** The live entry, or undefined (an expired one is dropped on the way). */
  get(key: string, now = Date.now()): { value: V; expiresAt: number } | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, value: V, expiresAt: number): void {
    this.entries.set(key, { value, expiresAt });
  }

  delete(key: string): boolean {
    return this.get(key) !== undefined && this.entries.delete(key);
  }

  sweep(now = Date.now()): void {
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.entries.clear();
  }
}

/** KeyValueStore for one process. Every method runs synchronously inside, so each is atomic. */
export class MemoryKeyValueStore extends KeyValueStore {
  private readonly map: ExpiringMap<string>;

  constructor(options: MemoryStoreOptions = {}) {
    super();
    this.map = new ExpiringMap(options.sweepIntervalMs);
  }

  /** Entries held, expired ones not yet swept included. */
  get size(): number {
    return this.map.size;
  }

  async get(key: string): Promise<string | null> {
    return this.map.get(key)?.value ?? null;
  }

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    const now = Date.now();
    return keys.map((key) => this.map.get(key, now)?.value ?? null);
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.map.set(key, value, Date.now() + ttlMilliseconds(ttlSeconds));
  }

  async expire(key: string, ttlSeconds: number): Promise<boolean> {
    const ttlMs = ttlMilliseconds(ttlSeconds);
    const entry = this.map.get(key);
    if (!entry) return false;
    entry.expiresAt = Date.now() + ttlMs;
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return this.map.delete(key);
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    const expiresAt = Date.now() + ttlMilliseconds(ttlSeconds);
    if (this.map.get(key)) return false;
    this.map.set(key, value, expiresAt);
    return true;
  }

  async deleteIfEquals(key: string, value: string): Promise<boolean> {
    return this.map.get(key)?.value === value && this.map.delete(key);
  }

  async take(key: string): Promise<string | null> {
    const entry = this.map.get(key);
    if (!entry) return null;
    this.map.delete(key);
    return entry.value;
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.map.close();
  }
}

/** CounterStore for one process, with the semantics of the Redis scripts (see redis.stores.ts). */
export class MemoryCounterStore extends CounterStore {
  private readonly map: ExpiringMap<number>;

  constructor(options: MemoryStoreOptions = {}) {
    super();
    this.map = new ExpiringMap(options.sweepIntervalMs);
  }

  /** Counters held, expired ones not yet swept included. */
  get size(): number {
    return this.map.size;
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const ttlMs = ttlMilliseconds(ttlSeconds);
    const now = Date.now();
    const entry = this.map.get(key, now);
    const count = (entry?.value ?? 0) + 1;
    this.map.set(key, count, entry?.expiresAt ?? now + ttlMs);
    return count;
  }

  async acquire(key: string, max: number, ttlSeconds: number): Promise<{ taken: boolean; inFlight: number }> {
    const ttlMs = ttlMilliseconds(ttlSeconds);
    const now = Date.now();
    const held = this.map.get(key, now)?.value ?? 0;
    const taken = held + 1 <= max;
    const inFlight = taken ? held + 1 : held;
    this.map.set(key, inFlight, now + ttlMs);
    return { taken, inFlight };
  }

  async release(key: string, ttlSeconds: number): Promise<number> {
    const ttlMs = ttlMilliseconds(ttlSeconds);
    const now = Date.now();
    const entry = this.map.get(key, now);
    if (!entry || entry.value <= 0) {
      // Nothing to give back: pin the counter at zero for a fresh TTL, as the Redis script does.
      this.map.set(key, 0, now + ttlMs);
      return 0;
    }
    entry.value -= 1; // the window's TTL stays (DECR keeps it)
    return entry.value;
  }

  async close(): Promise<void> {
    this.map.close();
  }
}
