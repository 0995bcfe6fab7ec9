import { describe, expect, it, vi } from 'vitest';
import type { Bus } from '#libs/bus';
import type { Catalog } from '#libs/contracts';
import { CatalogService } from './catalog.service.js';

const catalog = (version: string): Catalog => ({ version, servers: [], aggregate_names: [] });

type Changed = { version: string; catalog?: Catalog };

/** A bus whose CatalogChanged events the test sends (`changed`) and whose GetCatalog calls it answers (`answers`). */
function fakeBus() {
  const fake = { changed: (_payload: Changed) => undefined as void, answers: [] as ((c: Catalog) => void)[] };
  const bus = {
    subscribe: vi.fn((_event: unknown, handler: (payload: Changed) => void) => {
      fake.changed = handler;
      return () => undefined;
    }),
    onReconnect: vi.fn(),
    call: vi.fn(() => new Promise<Catalog>((resolve) => fake.answers.push(resolve))),
  } as unknown as Bus;
  return { bus, answers: fake.answers, onChanged: (payload: Changed) => fake.changed(payload) };
}

describe('CatalogService (edge)', () => {
  it('fetches again when a new version is announced while a fetch is in flight (that fetch may have read the older one)', async () => {
    const { bus, answers, onChanged } = fakeBus();
    const sut = new CatalogService(bus);
    sut.onModuleInit();
    try {
      const first = sut.current();
      answers.shift()!(catalog('v1'));
      await first;
      onChanged({ version: 'v2' }); // fetch #2 starts
      expect(bus.call).toHaveBeenCalledTimes(2);
      onChanged({ version: 'v3' }); // announced while #2 is in flight: no second fetch at once
      expect(bus.call).toHaveBeenCalledTimes(2);
      answers.shift()!(catalog('v2')); // #2 read v2, not v3: once more
      await vi.waitFor(() => expect(bus.call).toHaveBeenCalledTimes(3));
      answers.shift()!(catalog('v3'));
      await vi.waitFor(async () => expect((await sut.current()).version).toBe('v3'));
      onChanged({ version: 'v4' });
      answers.shift()!(catalog('v4'));
      onChanged({ version: 'v4' }); // already current when #4 ends: nothing more
      await vi.waitFor(async () => expect((await sut.current()).version).toBe('v4'));
      expect(bus.call).toHaveBeenCalledTimes(4);
    } finally {
      sut.onModuleDestroy();
    }
  });

  it('takes the catalog an event carries without asking, and drops what a fetch in flight then returns', async () => {
    const { bus, answers, onChanged } = fakeBus();
    const sut = new CatalogService(bus);
    const seen: string[] = [];
    sut.onChange((c) => seen.push(c.version));
    sut.onModuleInit();
    try {
      const first = sut.current();
      answers.shift()!(catalog('v1'));
      await first;
      onChanged({ version: 'v2', catalog: catalog('v2') });
      expect((await sut.current()).version).toBe('v2');
      expect(bus.call).toHaveBeenCalledTimes(1);
      expect(seen).toEqual(['v2']);
      const refreshing = sut.refresh(); // e.g. the periodic refresh, reading before v3 was saved
      onChanged({ version: 'v3', catalog: catalog('v3') });
      answers.shift()!(catalog('v2'));
      await refreshing;
      expect((await sut.current()).version).toBe('v3');
      expect(seen).toEqual(['v2', 'v3']);
      expect(bus.call).toHaveBeenCalledTimes(2);
    } finally {
      sut.onModuleDestroy();
    }
  });
});
