import { describe, expect, it, vi } from 'vitest';
import { McpServerSpec, type ServersChanged } from '#libs/contracts';
import type { Bus } from '#libs/bus';
import { definitionFromSpec, type ServerRecord } from './server-definition.js';
import { planSeed, ServerSeeder } from './server-seeder.js';
import type { ServerRepository } from './server.repository.js';

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
    const sut = new ServerSeeder(repo, bus, { seedServers: { a: spec('https://a/new'), b: spec('https://b'), c: spec('https://c') } });
    expect(await sut.seed()).toEqual({ created: ['b'], updated: ['a'] });
    expect(published).toEqual([
      { server_id: 'id-a', server_name: 'a', change: 'updated' },
      { server_id: 'id-b', server_name: 'b', change: 'created' },
    ]);
  });
});
