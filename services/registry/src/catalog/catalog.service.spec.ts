import { describe, expect, it, vi } from 'vitest';
import type { Bus } from '#libs/bus';
import { DomainError, McpServerSpec, type Catalog, type Contract, type EventContract } from '#libs/contracts';
import { definitionFromSpec, type ServerRecord } from '../servers/server-definition.js';
import type { ServerRepository } from '../servers/server.repository.js';
import type { CatalogRepository, ServerFetch } from './catalog.repository.js';
import { CatalogService } from './catalog.service.js';

const server = (name: string, timeout?: number): ServerRecord => ({
  ...definitionFromSpec(name, McpServerSpec.parse({ url: `https://${name}/mcp`, transport: 'http', ...(timeout ? { timeout } : {}) })),
  id: `id-${name}`,
  source: 'config',
  created_at: new Date(0),
  updated_at: new Date(0),
});

function setup(servers: ServerRecord[], answer: (serverId: string) => Promise<string[]>) {
  let catalog: Catalog | null = null;
  const fetches = new Map<string, ServerFetch>();
  const cache = {
    getCatalog: vi.fn(async () => catalog),
    saveCatalog: vi.fn(async (c: Catalog) => void (catalog = c)),
    getFetches: vi.fn(async (ids: string[]) => new Map(ids.filter((id) => fetches.has(id)).map((id) => [id, fetches.get(id)!]))),
    saveFetch: vi.fn(async (id: string, f: ServerFetch) => void fetches.set(id, f)),
    dropFetch: vi.fn(async (id: string) => void fetches.delete(id)),
  } as unknown as CatalogRepository;
  const published: { event: string; payload: unknown }[] = [];
  const calls: { serverId: string; timeoutMs: number }[] = [];
  const bus = {
    call: vi.fn(async (_c: Contract, req: { server_id: string }, opts: { timeoutMs: number }) => {
      calls.push({ serverId: req.server_id, timeoutMs: opts.timeoutMs });
      const tools = await answer(req.server_id);
      return { tools: tools.map((name) => ({ name, inputSchema: { type: 'object' } })), server_info: null, protocol_version: '2025-06-18' };
    }),
    publish: vi.fn((e: EventContract, payload: unknown) => void published.push({ event: e.name, payload })),
    subscribe: vi.fn(() => () => undefined),
  } as unknown as Bus;
  const repo = { list: vi.fn(async () => servers) } as unknown as ServerRepository;
  const sut = new CatalogService(repo, cache, bus, { seedServers: {}, maxFetchMs: 10_000 });
  return { sut, published, calls, fetches, cache };
}

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

  it('re-checks an unhealthy server on the next refresh and keeps healthy ones cached', async () => {
    let down = true;
    const { sut, calls, fetches } = setup([server('a'), server('b')], async (id) => {
      if (id === 'id-b' && down) throw new Error('refused');
      return ['t'];
    });
    await sut.rebuild();
    // age the unhealthy entry past the 5 s re-check interval
    const entry = fetches.get('id-b')!;
    fetches.set('id-b', { ...entry, checked_at: new Date(Date.now() - 6000).toISOString() });
    down = false;
    const catalog = await sut.rebuild();
    expect(calls.map((c) => c.serverId)).toEqual(['id-a', 'id-b', 'id-b']);
    expect(catalog.servers.every((s) => s.status === 'healthy')).toBe(true);
  });

  it('queues a rebuild requested during a build instead of returning the stale one', async () => {
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    let tools = ['old'];
    const { sut } = setup([server('a')], async () => {
      const answer = tools;
      await gate;
      return answer;
    });
    const first = sut.rebuild();
    await new Promise((r) => setTimeout(r, 5));
    tools = ['new'];
    const second = sut.invalidate(['id-a']);
    const firstRelease = release;
    gate = Promise.resolve();
    firstRelease();
    expect((await first).aggregate_names.map((n) => n.tool)).toEqual(['old']);
    expect((await second).aggregate_names.map((n) => n.tool)).toEqual(['new']);
  });
});
