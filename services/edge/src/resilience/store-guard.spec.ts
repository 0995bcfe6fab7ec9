import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCounterStore, MemoryKeyValueStore } from '#libs/cache';
import { DomainError } from '#libs/contracts';
import { FallbackCounterStore, GuardedKeyValueStore, StoreGuard } from './store-guard.js';

/** A memory store that can be made to fail like a Redis that went away. */
class FlakyStore extends MemoryKeyValueStore {
  down = false;
  calls = 0;
  override async get(key: string) {
    this.calls++;
    if (this.down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    return super.get(key);
  }
  override async set(key: string, value: string, ttl: number) {
    this.calls++;
    if (this.down) throw Object.assign(new Error('Connection is closed.'), {});
    return super.set(key, value, ttl);
  }
}

class FlakyCounters extends MemoryCounterStore {
  down = false;
  override async increment(key: string, ttl: number) {
    if (this.down) throw new Error('Connection is closed.');
    return super.increment(key, ttl);
  }
  override async acquire(key: string, max: number, ttl: number) {
    if (this.down) throw new Error('Connection is closed.');
    return super.acquire(key, max, ttl);
  }
  override async release(key: string, ttl: number) {
    if (this.down) throw new Error('Connection is closed.');
    return super.release(key, ttl);
  }
}

const guards: StoreGuard[] = [];
afterEach(() => guards.splice(0).forEach((g) => g.onModuleDestroy()));

function setup() {
  const raw = new FlakyStore();
  const guard = new StoreGuard(raw, true);
  guards.push(guard);
  guard.onModuleInit();
  return { raw, guard, kv: new GuardedKeyValueStore(raw, guard) };
}

describe('StoreGuard', () => {
  it('a failed command marks the store unreachable: later commands fail at once, retryable, without touching it', async () => {
    const { raw, guard, kv } = setup();
    raw.down = true;
    const first = await kv.get('a').catch((e: unknown) => e);
    expect(first).toBeInstanceOf(DomainError);
    expect((first as DomainError).code).toBe('UPSTREAM_UNAVAILABLE');
    expect((first as DomainError).retryable).toBe(true);
    expect(guard.up).toBe(false);
    const before = raw.calls;
    await expect(kv.set('a', '1', 10)).rejects.toMatchObject({ details: { store: 'unreachable' } });
    expect(raw.calls).toBe(before);
  });

  it('finds the store back by itself and tells its listeners; a store that lost its data is noticed too', async () => {
    const { raw, guard, kv } = setup();
    const recovered: boolean[] = [];
    guard.onRecovered((lost) => recovered.push(lost));
    raw.down = true;
    await kv.get('a').catch(() => undefined);
    raw.down = false;
    await waitUntil(() => guard.up);
    expect(recovered.length).toBe(1);
    // the data goes (a restart without persistence): the marker is missing at the next check
    (raw as unknown as { map: { close(): void } }).map.close();
    await waitUntil(() => recovered.length === 2, 3_000);
    expect(recovered[1]).toBe(true);
  });

  it('other errors are not taken for an outage', async () => {
    const { guard, kv } = setup();
    await expect(kv.set('a', '1', 0)).rejects.toBeInstanceOf(RangeError);
    expect(guard.up).toBe(true);
  });
});

describe('FallbackCounterStore', () => {
  it('counts in memory while the store is unreachable, and gives a slot back where it was taken', async () => {
    const { guard } = setup();
    const inner = new FlakyCounters();
    const counters = new FallbackCounterStore(inner, guard);
    expect(await counters.increment('k', 60)).toBe(1);
    expect((await counters.acquire('p', 1, 60)).taken).toBe(true); // in the store
    inner.down = true;
    expect(await counters.increment('k', 60)).toBe(1); // in memory now: its own count
    expect(await counters.increment('k', 60)).toBe(2);
    const inMemory = await counters.acquire('q', 1, 60);
    expect(inMemory.taken).toBe(true);
    expect((await counters.acquire('q', 1, 60)).taken).toBe(false); // the limit holds in memory
    await counters.release('q', 60);
    expect((await counters.acquire('q', 1, 60)).taken).toBe(true);
    inner.down = false;
    await waitUntil(() => guard.up); // the guard finds the store back by itself
    await counters.release('p', 60); // a slot of the store: given back there
    expect((await inner.acquire('p', 1, 60)).taken).toBe(true);
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error('not within time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
