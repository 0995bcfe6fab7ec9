import type { Redis } from 'ioredis';
import { CacheKeys } from '#libs/cache';

export interface RateDecision {
  allowed: boolean;
  /** Seconds until a retry can succeed (0 when allowed). */
  retryAfterSeconds: number;
  /** The limit applied; null = unlimited (no Redis round trip was made). */
  limit: number | null;
  /** What is left in this window (rpm) or of the parallel slots, after this request. */
  remaining: number;
}

// INCR the minute's counter; the first hit sets the TTL. Returns the count.
const HIT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n`;

// Take a parallel slot unless all are taken (then give it back). Returns {taken(0|1), in_flight}.
const ACQUIRE_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return {0, n - 1}
end
return {1, n}`;

// Give a slot back, never below zero.
const RELEASE_SCRIPT = `
local n = redis.call('DECR', KEYS[1])
if n < 0 then redis.call('SET', KEYS[1], 0, 'EX', ARGV[1]) return 0 end
return n`;

const UNLIMITED: RateDecision = { allowed: true, retryAfterSeconds: 0, limit: null, remaining: Number.POSITIVE_INFINITY };

/**
 * Request limits counted in Redis across every edge replica, one round trip per check:
 * - `hit(id, rpmLimit)`: fixed one-minute window (CacheKeys.rateWindow), the rpm_limit of a key, team or org.
 * - `acquire(id, maxParallel)` / `release(id)`: calls in flight (CacheKeys.parallel), max_parallel_requests.
 * `id` is a key's token hash, or e.g. `team:<id>` for a team's shared limit. A null limit makes no round trip.
 * Requests over the limit are counted too (a client hammering past its limit stays limited for the window).
 */
export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly now: () => number = Date.now,
  ) {}

  async hit(id: string, rpmLimit: number | null | undefined): Promise<RateDecision> {
    if (rpmLimit === null || rpmLimit === undefined) return UNLIMITED;
    const nowMs = this.now();
    const minute = Math.floor(nowMs / 60_000);
    const { key, ttlSeconds } = CacheKeys.rateWindow(id, minute);
    const count = Number(await this.redis.eval(HIT_SCRIPT, 1, key, ttlSeconds));
    const allowed = count <= rpmLimit;
    const retryAfterSeconds = allowed ? 0 : Math.max(1, Math.ceil(((minute + 1) * 60_000 - nowMs) / 1000));
    return { allowed, retryAfterSeconds, limit: rpmLimit, remaining: Math.max(0, rpmLimit - count) };
  }

  async acquire(id: string, maxParallel: number | null | undefined): Promise<RateDecision> {
    if (maxParallel === null || maxParallel === undefined) return UNLIMITED;
    const { key, ttlSeconds } = CacheKeys.parallel(id);
    const [taken, inFlight] = (await this.redis.eval(ACQUIRE_SCRIPT, 1, key, maxParallel, ttlSeconds)) as [number, number];
    const allowed = Number(taken) === 1;
    return { allowed, retryAfterSeconds: allowed ? 0 : 1, limit: maxParallel, remaining: Math.max(0, maxParallel - Number(inFlight)) };
  }

  /** Call once after each allowed `acquire` with a limit, when the call ends (success or failure). */
  async release(id: string, maxParallel: number | null | undefined): Promise<void> {
    if (maxParallel === null || maxParallel === undefined) return;
    const { key, ttlSeconds } = CacheKeys.parallel(id);
    await this.redis.eval(RELEASE_SCRIPT, 1, key, ttlSeconds);
  }
}
