import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type Redis } from '#libs/cache';
import { TEST_REDIS_URL, uniqueId } from '#libs/testing';
import { RateLimiter } from './rate-limiter.js';

describe('RateLimiter (real Redis)', () => {
  const prefix = `${uniqueId('test_rl_')}:`;
  let redis: Redis;

  beforeAll(() => {
    redis = createRedis(TEST_REDIS_URL, prefix);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys.map((k) => k.slice(prefix.length)));
    await redis.quit();
  });

  it('allows rpm_limit requests in a minute, then refuses with the seconds left in the window', async () => {
    const at = 60_000 * 1000 + 45_000; // 45 s into a minute
    const sut = new RateLimiter(redis, () => at);
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await sut.hit('k1', 3));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(decisions.map((d) => d.remaining)).toEqual([2, 1, 0, 0]);
    expect(decisions[3]).toMatchObject({ limit: 3, retryAfterSeconds: 15 });
    expect(await redis.ttl(`rate:v1:k1:${Math.floor(at / 60_000)}`)).toBeGreaterThan(60);
  });

  it('starts a new window every minute', async () => {
    let now = 60_000 * 2000;
    const sut = new RateLimiter(redis, () => now);
    expect((await sut.hit('k2', 1)).allowed).toBe(true);
    expect((await sut.hit('k2', 1)).allowed).toBe(false);
    now += 60_000;
    expect((await sut.hit('k2', 1)).allowed).toBe(true);
  });

  it('keeps separate counters per id and is shared by every limiter on the same Redis', async () => {
    const now = () => 60_000 * 3000;
    const a = new RateLimiter(redis, now);
    const b = new RateLimiter(redis, now);
    expect((await a.hit('k3', 2)).allowed).toBe(true);
    expect((await b.hit('k3', 2)).allowed).toBe(true);
    expect((await a.hit('k3', 2)).allowed).toBe(false);
    expect((await b.hit('k4', 2)).allowed).toBe(true);
  });

  it('makes no round trip for an unlimited key and refuses everything at rpm_limit 0', async () => {
    const sut = new RateLimiter(redis);
    expect(await sut.hit('k5', null)).toMatchObject({ allowed: true, limit: null });
    expect(await redis.keys(`${prefix}rate:v1:k5:*`)).toEqual([]);
    expect((await sut.hit('k6', 0)).allowed).toBe(false);
  });

  it('limits calls in flight and frees a slot on release', async () => {
    const sut = new RateLimiter(redis);
    const first = await Promise.all([sut.acquire('p1', 2), sut.acquire('p1', 2), sut.acquire('p1', 2)]);
    expect(first.filter((d) => d.allowed)).toHaveLength(2);
    const refused = first.find((d) => !d.allowed)!;
    expect(refused).toMatchObject({ limit: 2, remaining: 0, retryAfterSeconds: 1 });
    expect(await redis.get('parallel:v1:p1')).toBe('2'); // the refused request gave its slot back
    await sut.release('p1', 2);
    expect((await sut.acquire('p1', 2)).allowed).toBe(true);
    await sut.release('p1', 2);
    await sut.release('p1', 2);
    await sut.release('p1', 2); // one too many: never below zero
    expect(await redis.get('parallel:v1:p1')).toBe('0');
    expect(await redis.ttl('parallel:v1:p1')).toBeGreaterThan(0);
    expect(await sut.acquire('p2', null)).toMatchObject({ allowed: true, limit: null });
  });
});
