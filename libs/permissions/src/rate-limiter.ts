import { CacheKeys, type CounterStore } from '#libs/cache';

export interface RateDecision {
  allowed: boolean;
  /** Seconds until a retry can succeed (0 when allowed). */
  retryAfterSeconds: number;
  /** The limit applied; null = unlimited (the counters were not touched). */
  limit: number | null;
  /** What is left in this window (rpm) or of the parallel slots, after this request. */
  remaining: number;
}

const UNLIMITED: RateDecision = { allowed: true, retryAfterSeconds: 0, limit: null, remaining: Number.POSITIVE_INFINITY };

/**
 * Request limits counted in a CounterStore (Redis: shared by every edge replica), one round trip per check:
 * - `hit(id, rpmLimit)`: fixed one-minute window (CacheKeys.rateWindow), the rpm_limit of a key, team or org.
 * - `acquire(id, maxParallel)` / `release(id)`: calls in flight (CacheKeys.parallel), max_parallel_requests.
 * `id` is a key's token hash, or e.g. `team:<id>` for a team's shared limit. A null limit makes no round trip.
 * Requests over the limit are counted too (a client hammering past its limit stays limited for the window).
 */
export class RateLimiter {
  constructor(
    private readonly counters: CounterStore,
    private readonly now: () => number = Date.now,
  ) {}

  async hit(id: string, rpmLimit: number | null | undefined): Promise<RateDecision> {
    if (rpmLimit === null || rpmLimit === undefined) return UNLIMITED;
    const nowMs = this.now();
    const minute = Math.floor(nowMs / 60_000);
    const { key, ttlSeconds } = CacheKeys.rateWindow(id, minute);
    const count = await this.counters.increment(key, ttlSeconds);
    const allowed = count <= rpmLimit;
    const retryAfterSeconds = allowed ? 0 : Math.max(1, Math.ceil(((minute + 1) * 60_000 - nowMs) / 1000));
    return { allowed, retryAfterSeconds, limit: rpmLimit, remaining: Math.max(0, rpmLimit - count) };
  }

  async acquire(id: string, maxParallel: number | null | undefined): Promise<RateDecision> {
    if (maxParallel === null || maxParallel === undefined) return UNLIMITED;
    const { key, ttlSeconds } = CacheKeys.parallel(id);
    const { taken: allowed, inFlight } = await this.counters.acquire(key, maxParallel, ttlSeconds);
    return { allowed, retryAfterSeconds: allowed ? 0 : 1, limit: maxParallel, remaining: Math.max(0, maxParallel - inFlight) };
  }

  /** Call once after each allowed `acquire` with a limit, when the call ends (success or failure). */
  async release(id: string, maxParallel: number | null | undefined): Promise<void> {
    if (maxParallel === null || maxParallel === undefined) return;
    const { key, ttlSeconds } = CacheKeys.parallel(id);
    await this.counters.release(key, ttlSeconds);
  }
}
