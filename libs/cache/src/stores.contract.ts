import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueId, waitFor } from '#libs/testing';
import type { CounterStore, KeyValueStore } from './stores.js';

// The test suites every KeyValueStore and CounterStore implementation passes (run by memory.stores.spec.ts and
// redis.stores.int-spec.ts). TTLs are short, and expiry is awaited by polling rather than sleeping.

export interface StoreFixture<S> {
  /** A store over the fixture's backend: what one writes, the others read (memory: the same instance each time). */
  connect(): Promise<S>;
  /** Called once after the suite: closes the stores and removes what they wrote. */
  close(): Promise<void>;
}

const SHORT_TTL = 0.2;
const LONG_TTL = 60;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function describeKeyValueStoreContract(name: string, makeFixture: () => Promise<StoreFixture<KeyValueStore>>): void {
  describe(`KeyValueStore contract: ${name}`, () => {
    let fixture: StoreFixture<KeyValueStore>;
    let sut: KeyValueStore;
    let other: KeyValueStore;
    const key = () => uniqueId('kv:');

    beforeAll(async () => {
      fixture = await makeFixture();
      [sut, other] = await Promise.all([fixture.connect(), fixture.connect()]);
    });
    afterAll(async () => {
      await fixture?.close();
    });

    it('reads back what was written, from any connection, and null for a missing key', async () => {
      const k = key();
      const value = JSON.stringify({ text: 'héllo ✓', list: [1, 2, 3], big: 'x'.repeat(100_000) });
      await sut.set(k, value, LONG_TTL);
      expect(await sut.get(k)).toBe(value);
      expect(await other.get(k)).toBe(value);
      expect(await sut.get(key())).toBeNull();
    });

    it('overwrites a value', async () => {
      const k = key();
      await sut.set(k, 'first', LONG_TTL);
      await other.set(k, 'second', LONG_TTL);
      expect(await sut.get(k)).toBe('second');
    });

    it('reads many keys at once, in order, with null for the missing ones', async () => {
      const [a, b, missing] = [key(), key(), key()];
      await Promise.all([sut.set(a, 'A', LONG_TTL), sut.set(b, 'B', LONG_TTL)]);
      expect(await sut.getMany([b, missing, a])).toEqual(['B', null, 'A']);
      expect(await sut.getMany([])).toEqual([]);
    });

    it('forgets a key when its TTL passes', async () => {
      const [short, long] = [key(), key()];
      await Promise.all([sut.set(short, 'short', SHORT_TTL), sut.set(long, 'long', LONG_TTL)]);
      expect(await sut.get(short)).toBe('short');
      await waitFor(async () => (await sut.get(short)) === null);
      expect(await sut.getMany([short, long])).toEqual([null, 'long']);
      expect(await sut.delete(short)).toBe(false);
      expect(await sut.expire(short, LONG_TTL)).toBe(false);
    });

    it('restarts a TTL on set and on expire (sliding expiry)', async () => {
      const [slid, reset, left] = [key(), key(), key()];
      await Promise.all([sut.set(slid, 'slid', SHORT_TTL), sut.set(reset, 'first', SHORT_TTL), sut.set(left, 'left', SHORT_TTL)]);
      expect(await sut.expire(slid, LONG_TTL)).toBe(true);
      await sut.set(reset, 'second', LONG_TTL);
      await waitFor(async () => (await sut.get(left)) === null);
      expect(await sut.getMany([slid, reset])).toEqual(['slid', 'second']);
    });

    it('says whether delete removed a live key', async () => {
      const k = key();
      await sut.set(k, 'v', LONG_TTL);
      expect(await other.delete(k)).toBe(true);
      expect(await sut.get(k)).toBeNull();
      expect(await sut.delete(k)).toBe(false);
      expect(await sut.delete(key())).toBe(false);
      expect(await sut.expire(k, LONG_TTL)).toBe(false);
    });

    it('sets a value only when the key is missing: exactly one of 50 concurrent writers wins', async () => {
      const k = key();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? sut : other).setIfAbsent(k, `holder-${i}`, LONG_TTL)));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect(await other.get(k)).toBe(`holder-${winner}`);
      expect(await sut.setIfAbsent(k, 'late', LONG_TTL)).toBe(false);
      expect(await sut.get(k)).toBe(`holder-${winner}`);
    });

    it('sets a value again once the previous one expired (a lock whose holder died)', async () => {
      const k = key();
      expect(await sut.setIfAbsent(k, 'first', SHORT_TTL)).toBe(true);
      await waitFor(async () => (await other.setIfAbsent(k, 'second', LONG_TTL)) === true);
      expect(await sut.get(k)).toBe('second');
    });

    it('deletes a key only while it holds the given value', async () => {
      const k = key();
      await sut.set(k, 'mine', LONG_TTL);
      expect(await other.deleteIfEquals(k, 'theirs')).toBe(false);
      expect(await sut.get(k)).toBe('mine');
      expect(await other.deleteIfEquals(k, 'mine')).toBe(true);
      expect(await sut.get(k)).toBeNull();
      expect(await sut.deleteIfEquals(k, 'mine')).toBe(false);
    });

    it('takes a value once: of concurrent takers exactly one gets it', async () => {
      const k = key();
      await sut.set(k, 'once', LONG_TTL);
      const taken = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? sut : other).take(k)));
      expect(taken.filter((v) => v !== null)).toEqual(['once']);
      expect(await sut.get(k)).toBeNull();
      expect(await sut.take(key())).toBeNull();
    });

    it('refuses a TTL that is not a positive number', async () => {
      await expect(sut.setIfAbsent(key(), 'v', 0)).rejects.toThrow(RangeError);
      await expect(sut.set(key(), 'v', 0)).rejects.toThrow(RangeError);
      await expect(sut.set(key(), 'v', Number.NaN)).rejects.toThrow(RangeError);
      await expect(sut.expire(key(), -1)).rejects.toThrow(RangeError);
    });

    it('answers a ping', async () => {
      expect(await sut.ping()).toBe(true);
    });
  });
}

export function describeCounterStoreContract(name: string, makeFixture: () => Promise<StoreFixture<CounterStore>>): void {
  describe(`CounterStore contract: ${name}`, () => {
    let fixture: StoreFixture<CounterStore>;
    let sut: CounterStore;
    let other: CounterStore;
    const key = () => uniqueId('counter:');

    beforeAll(async () => {
      fixture = await makeFixture();
      [sut, other] = await Promise.all([fixture.connect(), fixture.connect()]);
    });
    afterAll(async () => {
      await fixture?.close();
    });

    it('counts hits, keeping separate counters per key', async () => {
      const [a, b] = [key(), key()];
      expect(await sut.increment(a, LONG_TTL)).toBe(1);
      expect(await other.increment(a, LONG_TTL)).toBe(2);
      expect(await sut.increment(b, LONG_TTL)).toBe(1);
      expect(await sut.increment(a, LONG_TTL)).toBe(3);
    });

    it('counts concurrent hits exactly once each', async () => {
      const k = key();
      const counts = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? sut : other).increment(k, LONG_TTL)));
      expect(counts.sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    });

    it('keeps a fixed window: the first hit sets the TTL, later hits do not extend it', async () => {
      const k = key();
      expect(await sut.increment(k, SHORT_TTL)).toBe(1);
      expect(await sut.increment(k, LONG_TTL)).toBe(2);
      // Were the later hits extending the window, the count would never start again at 1.
      await waitFor(async () => (await sut.increment(k, LONG_TTL)) === 1);
    });

    it('gives exactly `max` of 50 concurrent acquires a slot', async () => {
      const k = key();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? sut : other).acquire(k, 10, LONG_TTL)));
      const taken = results.filter((r) => r.taken);
      expect(taken).toHaveLength(10);
      expect(taken.map((r) => r.inFlight).sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      expect(results.filter((r) => !r.taken).every((r) => r.inFlight === 10)).toBe(true);
    });

    it('frees a slot on release and never goes below zero', async () => {
      const k = key();
      await Promise.all([sut.acquire(k, 2, LONG_TTL), sut.acquire(k, 2, LONG_TTL)]);
      expect(await other.acquire(k, 2, LONG_TTL)).toEqual({ taken: false, inFlight: 2 });
      expect(await other.release(k, LONG_TTL)).toBe(1);
      expect(await sut.acquire(k, 2, LONG_TTL)).toEqual({ taken: true, inFlight: 2 });
      const releases = await Promise.all(Array.from({ length: 5 }, () => sut.release(k, LONG_TTL)));
      expect(releases.sort((x, y) => x - y)).toEqual([0, 0, 0, 0, 1]);
      expect(await sut.acquire(k, 1, LONG_TTL)).toEqual({ taken: true, inFlight: 1 });
      expect(await sut.release(key(), LONG_TTL)).toBe(0);
    });

    it('refuses every acquire when max is 0', async () => {
      const k = key();
      expect(await sut.acquire(k, 0, LONG_TTL)).toEqual({ taken: false, inFlight: 0 });
      expect(await sut.acquire(k, 1, LONG_TTL)).toEqual({ taken: true, inFlight: 1 });
    });

    it('frees slots nobody released once their TTL passes', async () => {
      const k = key();
      expect((await sut.acquire(k, 1, SHORT_TTL)).taken).toBe(true);
      expect((await sut.acquire(k, 1, SHORT_TTL)).taken).toBe(false);
      // Every acquire restarts the TTL, so polling with acquire would keep the slot held: wait out the TTL once.
      await sleep(SHORT_TTL * 1000 + 50);
      expect(await sut.acquire(k, 1, SHORT_TTL)).toEqual({ taken: true, inFlight: 1 });
    });
  });
}
