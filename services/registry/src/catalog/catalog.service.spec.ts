import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Bus } from '#libs/bus';
import { waitFor } from '#libs/testing';
import { DomainError, McpServerSpec, type CacheHints, type Catalog, type Contract, type EventContract } from '#libs/contracts';
import type { RegistryOptions } from '../options.js';
import { definitionFromSpec, type ServerRecord } from '../servers/server-definition.js';
import type { ServerRepository } from '../servers/server.repository.js';
import type { CatalogRepository, ServerFetch } from './catalog.repository.js';
import { CatalogService, MIN_LIST_REFRESH_MS } from './catalog.service.js';

const server = (name: string, timeout?: number): ServerRecord => ({
  ...definitionFromSpec(name, McpServerSpec.parse({ url: `https://${name}/mcp`, transport: 'http', ...(timeout ? { timeout } : {}) })),
  id: `id-${name}`,
  source: 'config',
  created_at: new Date(0),
  updated_at: new Date(0),
});

/** What a bus call gets when no service serves the subject (libs/bus's noResponders). */
const noConnector = () => new DomainError('UPSTREAM_UNAVAILABLE', 'no service is answering FetchServerCatalog', { subject: 'x', no_responders: true }, true);

function setup(
  servers: ServerRecord[],
  answer: (serverId: string) => Promise<string[]>,
  options: Partial<RegistryOptions> = {},
  hints: Record<string, CacheHints> = {},
) {
  let catalog: Catalog | null = null;
  const fetches = new Map<string, ServerFetch>();
  const cache = {
    getCatalog: vi.fn(async () => catalog),
    saveCatalog: vi.fn(async (c: Catalog) => JSON.stringify((catalog = c))),
    getFetches: vi.fn(async (ids: string[]) => new Map(ids.filter((id) => fetches.has(id)).map((id) => [id, fetches.get(id)!]))),
    saveFetch: vi.fn(async (id: string, f: ServerFetch) => (fetches.set(id, f), { text: JSON.stringify(f), fetch: f })),
    dropFetch: vi.fn(async (id: string) => void fetches.delete(id)),
  } as unknown as CatalogRepository;
  const published: { event: string; payload: unknown }[] = [];
  const subscribers = new Map<string, (payload: unknown) => void>();
  const calls: { serverId: string; timeoutMs: number }[] = [];
  const bus = {
    call: vi.fn(async (_c: Contract, req: { server_id: string }, opts: { timeoutMs: number }) => {
      calls.push({ serverId: req.server_id, timeoutMs: opts.timeoutMs });
      const tools = await answer(req.server_id);
      const cache_hints = hints[req.server_id];
      return { tools: tools.map((name) => ({ name, inputSchema: { type: 'object' } })), server_info: null, protocol_version: '2025-06-18', ...(cache_hints ? { cache_hints } : {}) };
    }),
    publish: vi.fn((e: EventContract, payload: unknown) => void published.push({ event: e.name, payload })),
    subscribe: vi.fn((e: EventContract, handler: (payload: unknown) => void) => {
      subscribers.set(e.name, handler);
      return () => undefined;
    }),
    onReconnect: vi.fn(),
    maxEventBytes: Infinity,
  } as unknown as Bus;
  const repo = {
    list: vi.fn(async () => servers),
    findByRef: vi.fn(async (ref: string) => servers.find((s) => s.id === ref || s.server_name === ref) ?? null),
  } as unknown as ServerRepository;
  const sut = new CatalogService(repo, cache, bus, { seedServers: {}, maxFetchMs: 10_000, ...options });
  sut.onModuleInit();
  cleanups.push(() => sut.onModuleDestroy());
  return { sut, published, calls, fetches, cache, subscribers };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  vi.useRealTimers();
});

describe('CatalogService', () => {
  it('shares one build between concurrent callers', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { sut, calls } = setup([server('a')], async () => {
      await gate;
      return ['t'];
    });
    const pending = [sut.getCatalog(), sut.getCatalog(), sut.getCatalog()];
    await new Promise((r) => setTimeout(r, 10));
    release();
    const results = await Promise.all(pending);
    expect(calls).toHaveLength(1);
    expect(new Set(results.map((c) => c.version)).size).toBe(1);
  });

  it('sends the catalog with CatalogChanged when it fits in an event, the version alone when not', async () => {
    const { sut, published } = setup([server('a')], async () => ['t']);
    const built = await sut.getCatalog();
    expect(published.at(-1)).toEqual({ event: 'CatalogChanged', payload: { version: built.version, server_ids: ['id-a'], catalog: built } });
    const small = setup([server('b')], async () => ['t']);
    (small as unknown as { sut: { bus: { maxEventBytes: number } } }).sut.bus.maxEventBytes = 100;
    const other = await small.sut.getCatalog();
    expect(small.published.at(-1)).toEqual({ event: 'CatalogChanged', payload: { version: other.version, server_ids: ['id-b'] } });
  });

  it('lists the servers when they change, and the build after their fetches takes that listing', async () => {
    const servers = [server('a'), server('b')];
    const { sut, subscribers } = setup(servers, async () => ['t']);
    sut.onApplicationBootstrap();
    await sut.getCatalog();
    const repo = (sut as unknown as { servers: { list: ReturnType<typeof vi.fn> } }).servers;
    const before = repo.list.mock.calls.length;
    subscribers.get('ServersChanged')!({ server_id: 'id-a', server_name: 'a', change: 'updated' });
    subscribers.get('ServersChanged')!({ server_id: 'id-b', server_name: 'b', change: 'updated' });
    await sut.invalidate([]);
    await waitFor(() => expect(repo.list.mock.calls.length).toBeGreaterThan(before));
    const after = repo.list.mock.calls.length;
    await sut.rebuild(); // nothing changed since: the listing is taken again
    expect(repo.list.mock.calls.length).toBe(after);
  });

  it('gives each server a deadline of min(its timeout, 10 s)', async () => {
    const { sut, calls } = setup([server('fast', 2), server('slow', 60), server('plain')], async () => ['t']);
    await sut.getCatalog();
    expect(Object.fromEntries(calls.map((c) => [c.serverId, c.timeoutMs]))).toEqual({ 'id-fast': 2000, 'id-slow': 10_000, 'id-plain': 10_000 });
  });

  it('keeps a failing server as unhealthy and never fails the catalog', async () => {
    const { sut } = setup([server('a'), server('b')], async (id) => {
      if (id === 'id-b') throw new DomainError('UPSTREAM_TIMEOUT', 'timed out');
      return ['t'];
    });
    const catalog = await sut.getCatalog();
    expect(catalog.servers.map((s) => [s.server_name, s.status, s.error])).toEqual([
      ['a', 'healthy', null],
      ['b', 'unhealthy', 'timed out'],
    ]);
    expect(catalog.aggregate_names.map((n) => n.name)).toEqual(['a-t']);
  });

  it('publishes CatalogChanged only when the version changes, naming the changed servers', async () => {
    let tools = ['t'];
    const { sut, published, calls } = setup([server('a'), server('b')], async () => tools);
    await sut.rebuild();
    expect(published).toHaveLength(1);
    await sut.rebuild(); // nothing stale, nothing new
    expect(published).toHaveLength(1);
    expect(calls).toHaveLength(2);
    tools = ['t', 'u'];
    await sut.invalidate(['id-a']);
    expect(calls).toHaveLength(3);
    expect(published).toHaveLength(2);
    expect(published[1]).toMatchObject({ event: 'CatalogChanged', payload: { server_ids: ['id-a'] } });
  });

  it('fetches a server left out again with backoff until it answers, keeping healthy ones cached', async () => {
    let failures = 3;
    const { sut, calls } = setup(
      [server('a'), server('b')],
      async (id) => {
        if (id === 'id-b' && failures-- > 0) throw new Error('connect ECONNREFUSED');
        return ['t'];
      },
      { retryInitialMs: 20, unhealthyRefreshMs: 80 },
    );
    await sut.rebuild();
    const catalog = await waitFor(async () => {
      const c = await sut.getCatalog();
      return c.servers.every((s) => s.status === 'healthy') ? c : undefined;
    }, 3000);
    expect(catalog.aggregate_names.map((n) => n.name)).toEqual(['a-t', 'b-t']);
    expect(calls.map((c) => c.serverId)).toEqual(['id-a', 'id-b', 'id-b', 'id-b', 'id-b']);
  });

  it('is ready once every server answered or failed on its own account, not while no connector answers', async () => {
    let connector = false;
    const { sut } = setup([server('a'), server('down')], async (id) => {
      if (!connector) throw noConnector();
      if (id === 'id-down') throw new DomainError('UPSTREAM_UNAVAILABLE', 'upstream down is unreachable: connect ECONNREFUSED');
      return ['t'];
    }, { retryInitialMs: 60_000 });
    await sut.rebuild();
    expect(sut.isReady()).toBe(false);
    await sut.rebuild(); // nothing is due: the cached failures stand
    expect(sut.isReady()).toBe(false);
    connector = true;
    await sut.rebuild(); // still nothing due before the (long) retry
    expect(sut.isReady()).toBe(false);
  });

  it('fetches what is missing as soon as a connector starts, and stays ready afterwards', async () => {
    let connector = false;
    const { sut, subscribers, calls } = setup([server('a'), server('down')], async (id) => {
      if (!connector) throw noConnector();
      if (id === 'id-down') throw new DomainError('UPSTREAM_UNAVAILABLE', 'upstream down is unreachable: connect ECONNREFUSED');
      return ['t'];
    }, { retryInitialMs: 60_000 });
    await sut.rebuild();
    expect(sut.isReady()).toBe(false);
    connector = true;
    subscribers.get('ConnectorStarted')!({ replica_id: 'r1' });
    await waitFor(() => sut.isReady(), 3000);
    const catalog = await sut.getCatalog();
    expect(catalog.servers.map((s) => [s.server_name, s.status])).toEqual([
      ['a', 'healthy'],
      ['down', 'unhealthy'],
    ]);
    expect(calls).toHaveLength(4);
    connector = false;
    subscribers.get('ConnectorStarted')!({ replica_id: 'r2' }); // 'down' is fetched again, and fails for want of a connector
    await waitFor(() => calls.length === 5, 3000);
    expect(sut.isReady()).toBe(true);
  });

  it('builds nothing on the changes announced while the config is seeded: the first build, after bootstrap, has every server', async () => {
    const seeded: ServerRecord[] = [];
    const { sut, subscribers, calls, cache } = setup(seeded, async () => ['t'], { retryInitialMs: 60_000 });
    for (const name of ['a', 'b']) {
      seeded.push(server(name)); // the seeder inserts one server, then announces it, then the next
      subscribers.get('ServersChanged')!({ server_id: `id-${name}`, server_name: name, change: 'created' });
    }
    await waitFor(() => vi.mocked(cache.dropFetch).mock.calls.length === 2, 3000);
    await new Promise((r) => setImmediate(r)); // every mock answers at once: a build started here has run by now
    expect(calls).toHaveLength(0);
    expect(sut.isReady()).toBe(false);
    seeded.push(server('c'));
    sut.onApplicationBootstrap();
    await waitFor(() => sut.isReady(), 3000);
    expect((await sut.getCatalog()).servers.map((s) => s.server_name)).toEqual(['a', 'b', 'c']);
    expect(calls.map((c) => c.serverId).sort()).toEqual(['id-a', 'id-b', 'id-c']);
  });

  it('neither caches nor assembles a fetch that started before its server changed: the builds take the fetch after', async () => {
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    let tools = ['old'];
    const { sut, published, calls, fetches } = setup([server('a')], async () => {
      const answer = tools;
      await gate;
      return answer;
    });
    const first = sut.rebuild();
    await waitFor(() => calls.length === 1, 3000);
    tools = ['new'];
    const second = sut.invalidate(['id-a']);
    await new Promise((r) => setTimeout(r, 5));
    expect(calls).toHaveLength(1); // one fetch per server at a time: the next starts when this one ends
    const firstRelease = release;
    gate = Promise.resolve();
    firstRelease();
    expect((await first).aggregate_names.map((n) => n.tool)).toEqual(['new']);
    expect((await second).aggregate_names.map((n) => n.tool)).toEqual(['new']);
    expect(calls).toHaveLength(2);
    expect(fetches.get('id-a')?.tools.map((t) => t.name)).toEqual(['new']);
    expect(published).toHaveLength(1); // the catalog with 'old' was never published
  });

  it("starts a changed server's fetch at once, while the build in progress still waits on another server", async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let version = 1;
    const { sut, calls } = setup([server('a'), server('b')], async (id) => {
      const answer = [`t${version}`];
      if (id === 'id-b') await slow;
      return answer;
    });
    const first = sut.rebuild();
    await waitFor(() => calls.length === 2, 3000);
    version = 2;
    const second = sut.invalidate(['id-a']);
    await waitFor(() => calls.filter((c) => c.serverId === 'id-a').length === 2, 3000); // b has not answered yet
    release();
    await first;
    const catalog = await second;
    expect(catalog.servers.map((s) => [s.server_name, s.tools.map((t) => t.name)])).toEqual([
      ['a', ['t2']],
      ['b', ['t1']],
    ]);
    expect(calls).toHaveLength(3);
  });

  it('leaves no rejection unhandled when a fetch started by a change cannot be stored (the stores closed at shutdown)', async () => {
    const unhandled: unknown[] = [];
    const note = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', note);
    try {
      const { sut, cache } = setup([server('a')], async () => ['t']);
      await sut.rebuild();
      vi.mocked(cache.saveFetch).mockRejectedValue(new Error('Connection is closed.'));
      await expect(sut.invalidate(['id-a'])).rejects.toThrow('Connection is closed.');
      await waitFor(() => vi.mocked(cache.saveFetch).mock.calls.length >= 2, 3000);
      await new Promise((r) => setImmediate(r)); // unhandled rejections are reported once the microtasks drain
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', note);
    }
  });

  it('fetches a server that changes many times during a fetch once more after it, not once per change', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let n = 0;
    const { sut, calls } = setup([server('a')], async () => {
      const answer = [`t${++n}`];
      if (n === 1) await gate;
      return answer;
    });
    const first = sut.rebuild();
    await waitFor(() => calls.length === 1, 3000);
    const changes = Array.from({ length: 5 }, () => sut.invalidate(['id-a']));
    await new Promise((r) => setTimeout(r, 5));
    release();
    const catalogs = await Promise.all([first, ...changes]);
    expect(calls).toHaveLength(2);
    expect(new Set(catalogs.map((c) => c.aggregate_names.map((x) => x.tool).join()))).toEqual(new Set(['t2']));
  });

  describe('lists with 2026-07-28 cache hints', () => {
    const hint = (ttl_ms: number) => ({ ttl_ms, scope: 'public' as const });
    const fetchedIds = (calls: { serverId: string }[]) => calls.map((c) => c.serverId);

    it('keeps the hints in the catalog', async () => {
      const { sut } = setup([server('a'), server('b')], async () => ['t'], {}, { 'id-a': { 'tools/list': hint(5000), 'resources/read': hint(0) } });
      const catalog = await sut.getCatalog();
      expect(catalog.servers.map((s) => [s.server_name, s.cache_hints])).toEqual([
        ['a', { 'tools/list': hint(5000), 'resources/read': hint(0) }],
        ['b', undefined],
      ]);
    });

    it('fetches a server again when its shortest list ttl ends, without the others, until the periodic pass', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const hints = { 'id-a': { 'tools/list': hint(5000), 'prompts/list': hint(8000), 'resources/read': hint(100) } };
      const { sut, calls } = setup([server('a'), server('b')], async () => ['t'], { healthyRefreshMs: 30_000, unhealthyRefreshMs: 30_000 }, hints);
      sut.onApplicationBootstrap();
      await sut.rebuild();
      expect(fetchedIds(calls).sort()).toEqual(['id-a', 'id-b']);
      await vi.advanceTimersByTimeAsync(4_990);
      expect(calls).toHaveLength(2); // resources/read's 100 ms is not a list's: it does not count
      await vi.advanceTimersByTimeAsync(10);
      expect(fetchedIds(calls).slice(2)).toEqual(['id-a']);
      await vi.advanceTimersByTimeAsync(5_000);
      expect(fetchedIds(calls).slice(2)).toEqual(['id-a', 'id-a']);
      await vi.advanceTimersByTimeAsync(20_000); // 30 s after the first fetch: b is due as well
      expect(fetchedIds(calls).filter((id) => id === 'id-b')).toHaveLength(2);
    });

    it('never fetches more often than once a second, whatever the ttl', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const { sut, calls } = setup([server('a')], async () => ['t'], {}, { 'id-a': { 'tools/list': hint(0) } });
      sut.onApplicationBootstrap();
      await sut.rebuild();
      expect(calls).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(MIN_LIST_REFRESH_MS - 10);
      expect(calls).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(10);
      expect(calls).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(3 * MIN_LIST_REFRESH_MS);
      expect(calls).toHaveLength(5);
    });

    it('leaves a server whose lists outlive the refresh interval to the periodic pass', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const { sut, calls } = setup([server('a')], async () => ['t'], { healthyRefreshMs: 30_000, unhealthyRefreshMs: 30_000 }, { 'id-a': { 'tools/list': hint(120_000) } });
      sut.onApplicationBootstrap();
      await sut.rebuild();
      await vi.advanceTimersByTimeAsync(29_990);
      expect(calls).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(10);
      expect(calls).toHaveLength(2);
    });
  });
});
