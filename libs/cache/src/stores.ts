/**
 * The stores behind sessions, caches and rate counters: Redis when the services run as separate processes,
 * memory when they share one. Keys come from CacheKeys; TTLs are in seconds (fractions allowed).
 * Abstract classes rather than interfaces so that each one doubles as its Nest injection token.
 */

/** String values with a time to live (callers JSON-encode). */
export abstract class KeyValueStore {
  /** The value, or null when the key is missing or expired. */
  abstract get(key: string): Promise<string | null>;
  /** One value (or null) per key, in the order asked. */
  abstract getMany(keys: readonly string[]): Promise<(string | null)[]>;
  /** Writes the value and restarts its time to live. */
  abstract set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Restarts a live key's time to live (sliding expiry); false when the key is missing. */
  abstract expire(key: string, ttlSeconds: number): Promise<boolean>;
  /** True when a live key was removed. */
  abstract delete(key: string): Promise<boolean>;
  /**
   * Writes the value only when the key is missing (or expired), atomically across everyone sharing the store: a
   * lock whose TTL frees it if its holder dies. True when this call wrote it.
   */
  abstract setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /** Removes the key only while it still holds `value` (a lock released by its holder, never by another). */
  abstract deleteIfEquals(key: string, value: string): Promise<boolean>;
  /** Reads and removes the value in one step (a single-use entry): exactly one caller gets it. */
  abstract take(key: string): Promise<string | null>;
  /** True when the store answers (bounded in time, never throws). */
  abstract ping(): Promise<boolean>;
  abstract close(): Promise<void>;
}

/** Counters changed atomically, whoever shares the store. */
export abstract class CounterStore {
  /** Counts a hit in a fixed window: the first hit starts the window (sets the TTL), later ones keep it. Returns the count. */
  abstract increment(key: string, ttlSeconds: number): Promise<number>;
  /**
   * Takes one of `max` slots unless all are taken. Every call restarts the TTL (slots a crashed holder never
   * released come back after it). `inFlight` is the slots taken after the call.
   */
  abstract acquire(key: string, max: number, ttlSeconds: number): Promise<{ taken: boolean; inFlight: number }>;
  /** Gives a slot back, never going below zero. Returns the slots still taken. */
  abstract release(key: string, ttlSeconds: number): Promise<number>;
  abstract close(): Promise<void>;
}

/** What one process uses; in the one-process mode every service shares the same instance. */
export interface Stores {
  kind: 'redis' | 'memory';
  kv: KeyValueStore;
  counters: CounterStore;
  close(): Promise<void>;
}

/** A TTL in whole milliseconds (at least 1), refusing values that would silently mean "forever" or "now". */
export function ttlMilliseconds(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new RangeError(`ttlSeconds must be a positive number, got ${ttlSeconds}`);
  return Math.max(1, Math.round(ttlSeconds * 1000));
}
