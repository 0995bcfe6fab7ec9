import { describe, expect, it } from 'vitest';
import { waitFor } from '#libs/testing';
import { MemoryCounterStore, MemoryKeyValueStore } from './memory.stores.js';
import { openStores } from './open-stores.js';
import { describeCounterStoreContract, describeKeyValueStoreContract } from './stores.contract.js';

// One process has one memory store: every "connection" is the same instance, closed once at the end.
describeKeyValueStoreContract('memory', async () => {
  const store = new MemoryKeyValueStore();
  return { connect: async () => store, close: () => store.close() };
});
describeCounterStoreContract('memory', async () => {
  const store = new MemoryCounterStore();
  return { connect: async () => store, close: () => store.close() };
});

describe('memory stores', () => {
  it('drop expired entries nobody reads again, without keeping the process alive', async () => {
    const timersBefore = refTimers();
    const kv = new MemoryKeyValueStore({ sweepIntervalMs: 20 });
    const counters = new MemoryCounterStore({ sweepIntervalMs: 20 });
    try {
      for (let i = 0; i < 100; i++) {
        await kv.set(`k${i}`, 'v', 0.05);
        await counters.increment(`c${i}`, 0.05);
      }
      await kv.set('kept', 'v', 60);
      expect([kv.size, counters.size]).toEqual([101, 100]);
      await waitFor(() => kv.size === 1 && counters.size === 0);
      expect(await kv.get('kept')).toBe('v');
      expect(refTimers()).toBe(timersBefore); // the sweep timers are unref'd
    } finally {
      await Promise.all([kv.close(), counters.close()]);
    }
  });

  it('are what openStores gives without a Redis URL', async () => {
    const stores = openStores({ prefix: 'sb:' });
    expect(stores.kind).toBe('memory');
    expect(stores.kv).toBeInstanceOf(MemoryKeyValueStore);
    expect(stores.counters).toBeInstanceOf(MemoryCounterStore);
    await stores.close();
  });
});

/** Timers that keep the event loop alive (unref'd ones are not counted). */
function refTimers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}
