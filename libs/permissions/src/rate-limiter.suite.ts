import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheKeys, CounterStore } from '#libs/cache';
import { uniqueId } from '#libs/testing';
import { RateLimiter } from './rate-limiter.js';

// RateLimiter's tests, run on memory counters (rate-limiter.spec.ts) and on Redis (rate-limiter.int-spec.ts).

export interface CountersFixture {
  /** Counters over the fixture's backend; every one sees the others' counts (memory: the same instance). */
  connect(): Promise<CounterStore>;
  close(): Promise<void>;
}

/** Passes calls through to the real store, noting each one (to see which calls and TTLs the limiter makes). */
class RecordingCounters extends CounterStore {
  readonly calls: { method: string; key: string; ttlSeconds: number }[] = [];
  constructor(private readonly inner: CounterStore) {
    super();
  }
  increment(key: string, ttlSeconds: number) {
    this.calls.push({ method: 'increment', key, ttlSeconds });
    return this.inner.increment(key, ttlSeconds);
  }
  acquire(key: string, max: number, ttlSeconds: number) {
    this.calls.push({ method: 'acquire', key, ttlSeconds });
    return this.inner.acquire(key, max, ttlSeconds);
  }
  release(key: string, ttlSeconds: number) {
    this.calls.push({ method: 'release', key, ttlSeconds });
    return this.inner.release(key, ttlSeconds);
  }
  close() {
    return this.inner.close();
  }
}

export function describeRateLimiter(name: string, makeFixture: () => Promise<CountersFixture>): void {
  describe(`RateLimiter (${name})`, () => {
    let fixture: CountersFixture;
    let counters: CounterStore;
    let replica: CounterStore;
    const id = () => uniqueId('key');

    beforeAll(async () => {
      fixture = await makeFixture();
      [counters, replica] = await Promise.all([fixture.connect(), fixture.connect()]);
    });
    afterAll(async () => {
      await fixture?.close();
    });

    it('allows rpm_limit requests in a minute, then refuses with the seconds left in the window', async () => {
      const at = 60_000 * 1000 + 45_000; // 45 s into a minute
      const recorded = new RecordingCounters(counters);
      const sut = new RateLimiter(recorded, () => at);
      const k = id();
      const decisions = [];
      for (let i = 0; i < 4; i++) decisions.push(await sut.hit(k, 3));
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
      expect(decisions.map((d) => d.remaining)).toEqual([2, 1, 0, 0]);
      expect(decisions[3]).toMatchObject({ limit: 3, retryAfterSeconds: 15 });
      expect(recorded.calls[0]).toEqual({ method: 'increment', ...CacheKeys.rateWindow(k, Math.floor(at / 60_000)) });
    });

    it('starts a new window every minute', async () => {
      let now = 60_000 * 2000;
      const sut = new RateLimiter(counters, () => now);
      const k = id();
      expect((await sut.hit(k, 1)).allowed).toBe(true);
      expect((await sut.hit(k, 1)).allowed).toBe(false);
      now += 60_000;
      expect((await sut.hit(k, 1)).allowed).toBe(true);
    });

    it('keeps separate counters per id and is shared by every limiter on the same store', async () => {
      const now = () => 60_000 * 3000;
      const a = new RateLimiter(counters, now);
      const b = new RateLimiter(replica, now);
      const [k, other] = [id(), id()];
      expect((await a.hit(k, 2)).allowed).toBe(true);
      expect((await b.hit(k, 2)).allowed).toBe(true);
      expect((await a.hit(k, 2)).allowed).toBe(false);
      expect((await b.hit(other, 2)).allowed).toBe(true);
    });

    it('makes no round trip for an unlimited key and refuses everything at rpm_limit 0', async () => {
      const recorded = new RecordingCounters(counters);
      const sut = new RateLimiter(recorded);
      expect(await sut.hit(id(), null)).toMatchObject({ allowed: true, limit: null });
      expect(await sut.acquire(id(), undefined)).toMatchObject({ allowed: true, limit: null });
      await sut.release(id(), null);
      expect(recorded.calls).toEqual([]);
      expect((await sut.hit(id(), 0)).allowed).toBe(false);
    });

    it('limits calls in flight across limiters and frees a slot on release, never below zero', async () => {
      const a = new RateLimiter(counters);
      const b = new RateLimiter(replica);
      const k = id();
      const first = await Promise.all([a.acquire(k, 2), b.acquire(k, 2), a.acquire(k, 2)]);
      expect(first.filter((d) => d.allowed)).toHaveLength(2);
      expect(first.find((d) => !d.allowed)).toMatchObject({ limit: 2, remaining: 0, retryAfterSeconds: 1 });
      await b.release(k, 2);
      expect(await a.acquire(k, 2)).toMatchObject({ allowed: true, remaining: 0 }); // the refused call gave its slot back
      await a.release(k, 2);
      await a.release(k, 2);
      await a.release(k, 2); // one too many
      const again = [await a.acquire(k, 2), await b.acquire(k, 2), await a.acquire(k, 2)];
      expect(again.map((d) => d.allowed)).toEqual([true, true, false]);
    });
  });
}
