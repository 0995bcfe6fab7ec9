import { Logger } from '@nestjs/common';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError } from '#libs/config';
import { McpServerSpec, type ServersChanged } from '#libs/contracts';
import type { Bus } from '#libs/bus';
import type { RegistryOptions } from '../options.js';
import { definitionFromSpec, type ServerRecord } from './server-definition.js';
import { planSeed, ServerSeeder } from './server-seeder.js';
import type { ServerRepository } from './server.repository.js';
import { UpstreamPolicy } from './upstream-policy.js';

/** Names resolve here, never through DNS. */
const names: Record<string, string[]> = { a: ['203.0.113.1'], b: ['203.0.113.2'], c: ['203.0.113.3'], 'meta.internal': ['169.254.169.254'] };
const resolver = async (host: string) => names[host] ?? [];
const seeder = (repo: ServerRepository, bus: Bus, options: RegistryOptions) => new ServerSeeder(repo, bus, options, new UpstreamPolicy({ ...options, resolver }));

const spec = (url: string) => McpServerSpec.parse({ url, transport: 'http' });
const row = (name: string, url: string, source: 'config' | 'api'): ServerRecord => ({
  ...definitionFromSpec(name, spec(url)),
  id: `id-${name}`,
  source,
  created_at: new Date(0),
  updated_at: new Date(0),
});

describe('planSeed', () => {
  it('inserts missing servers, updates changed config rows, keeps API rows and unchanged ones, never deletes', () => {
    const plan = planSeed(
      { a: spec('https://a/new'), b: spec('https://b'), c: spec('https://c/config'), d: spec('https://d') },
      [row('a', 'https://a/old', 'config'), row('b', 'https://b', 'config'), row('c', 'https://c/api', 'api'), row('z', 'https://z', 'config')],
    );
    expect(plan.map((a) => [a.kind, a.kind === 'keep' ? a.server_name : a.definition.server_name])).toEqual([
      ['update', 'a'],
      ['keep', 'b'],
      ['keep', 'c'],
      ['insert', 'd'],
    ]);
    expect(plan[0]).toMatchObject({ kind: 'update', id: 'id-a', definition: { url: 'https://a/new' } });
    expect(plan[2]).toMatchObject({ reason: 'changed-by-api' });
  });

  it('is a no-op when the database already matches the config', () => {
    const plan = planSeed({ a: spec('https://a') }, [row('a', 'https://a', 'config')]);
    expect(plan).toEqual([{ kind: 'keep', server_name: 'a', reason: 'unchanged' }]);
  });
});

describe('ServerSeeder', () => {
  it('publishes ServersChanged only for what it actually wrote (another replica may have won)', async () => {
    const published: unknown[] = [];
    const bus = { publish: vi.fn((_e: typeof ServersChanged, p: unknown) => published.push(p)) } as unknown as Bus;
    const repo = {
      list: vi.fn(async () => [row('a', 'https://a/old', 'config')]),
      insertIfMissing: vi.fn(async (d: { server_name: string }) => (d.server_name === 'b' ? { ...row('b', 'https://b', 'config') } : null)),
      updateIfFromConfig: vi.fn(async () => row('a', 'https://a/new', 'config')),
    } as unknown as ServerRepository;
    const sut = seeder(repo, bus, { seedServers: { a: spec('https://a/new'), b: spec('https://b'), c: spec('https://c') } });
    expect(await sut.seed()).toEqual({ created: ['b'], updated: ['a'] });
    expect(published).toEqual([
      { server_id: 'id-a', server_name: 'a', change: 'updated' },
      { server_id: 'id-b', server_name: 'b', change: 'created' },
    ]);
  });

  it('stops start-up naming every config server whose host name resolves to a refused address, and writes nothing', async () => {
    const repo = { list: vi.fn(async () => []), insertIfMissing: vi.fn(), updateIfFromConfig: vi.fn() } as unknown as ServerRepository;
    const bus = { publish: vi.fn() } as unknown as Bus;
    const sut = seeder(repo, bus, {
      seedServers: { a: spec('https://a/mcp'), meta: spec('http://meta.internal/mcp'), b: spec('https://b/mcp') },
      generalSettings: { mcp_blocked_ip_ranges: ['203.0.113.2/32'], mcp_allowed_ip_ranges: [], mcp_stdio_allowed_commands: [] },
    });
    const error = await sut.seed().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'mcp_servers.b.url: b resolves to 203.0.113.2, which is in general_settings.mcp_blocked_ip_ranges (203.0.113.2/32)',
      'mcp_servers.meta.url: meta.internal resolves to 169.254.169.254, which is a link-local (cloud metadata) address: always refused',
    ]);
    expect(repo.insertIfMissing).not.toHaveBeenCalled();
    expect(bus.publish).not.toHaveBeenCalled();
  });

  it('says once per server which transport a server without one was given', async () => {
    const logged = vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    try {
      const repo = { list: vi.fn(async () => []), insertIfMissing: vi.fn(async () => null) } as unknown as ServerRepository;
      const sut = seeder(repo, { publish: vi.fn() } as unknown as Bus, {
        seedServers: { a: McpServerSpec.parse({ url: 'https://a/mcp' }), b: McpServerSpec.parse({ url: 'https://b/sse' }), c: spec('https://c/mcp') },
      });
      await sut.seed();
      const lines = logged.mock.calls.map(([line]) => String(line)).filter((line) => line.includes('no transport given'));
      expect(lines).toEqual([
        'mcp_servers.a: no transport given, using http (its URL path ends in /mcp)',
        "mcp_servers.b: no transport given, using sse (LiteLLM's default when the URL path does not end in /mcp)",
      ]);
    } finally {
      logged.mockRestore();
    }
  });
});
