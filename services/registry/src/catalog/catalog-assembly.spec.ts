import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Catalog, McpServerSpec } from '#libs/contracts';
import { canonicalJson, definitionFromSpec, type ServerRecord } from '../servers/server-definition.js';
import { assembleCatalog, changedServerIds } from './catalog-assembly.js';
import type { ServerFetch } from './catalog.repository.js';

const server = (name: string): ServerRecord => ({
  ...definitionFromSpec(name, McpServerSpec.parse({ url: `https://${name}/mcp`, transport: 'http' })),
  id: `id-${name}`,
  source: 'config',
  created_at: new Date(0),
  updated_at: new Date(0),
});
const tool = (name: string) => ({ name, inputSchema: { type: 'object' } });
const healthy = (names: string[], at = '2025-01-01T00:00:00.000Z'): ServerFetch => ({
  status: 'healthy', error: null, checked_at: at, tools: names.map(tool), protocol_version: '2025-06-18',
});
const down: ServerFetch = { status: 'unhealthy', error: 'connection refused', checked_at: '2025-01-01T00:00:00.000Z', tools: [], protocol_version: null };

describe('assembleCatalog', () => {
  it('lists an unhealthy server with its error and no tools, and leaves it out of aggregate names', () => {
    const catalog = assembleCatalog([server('b'), server('a')], new Map([['id-a', healthy(['search'])], ['id-b', down]]));
    expect(Catalog.parse(catalog)).toBeTruthy();
    expect(catalog.servers.map((s) => [s.server_name, s.status, s.error, s.tools.length])).toEqual([
      ['a', 'healthy', null, 1],
      ['b', 'unhealthy', 'connection refused', 0],
    ]);
    expect(catalog.aggregate_names).toEqual([{ name: 'a-search', server_id: 'id-a', tool: 'search' }]);
  });

  it('treats a server without a fetch as unhealthy rather than failing', () => {
    const catalog = assembleCatalog([server('a')], new Map());
    expect(catalog.servers[0]).toMatchObject({ status: 'unhealthy', tools: [] });
  });

  it('names deterministically whatever order servers and tools come in; long and colliding names get a hash', () => {
    const long = 'x'.repeat(70);
    const fetchesA = new Map([['id-a', healthy(['b.c', 'b_c', long])], ['id-b', healthy(['z', 'y'])]]);
    const fetchesB = new Map([['id-b', healthy(['y', 'z'])], ['id-a', healthy([long, 'b_c', 'b.c'])]]);
    const one = assembleCatalog([server('a'), server('b')], fetchesA);
    const two = assembleCatalog([server('b'), server('a')], fetchesB);
    expect(one.aggregate_names).toEqual(two.aggregate_names);
    expect(one.version).toBe(two.version);
    const names = one.aggregate_names.map((n) => n.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n.length).toBeLessThanOrEqual(64);
    expect(names).toContain('b-y');
    expect(names.filter((n) => n.startsWith('a-b_c_'))).toHaveLength(2);
  });

  it('keeps the version when only check times or error texts change, changes it when tools change', () => {
    const servers = [server('a'), server('b')];
    const v1 = assembleCatalog(servers, new Map([['id-a', healthy(['t'])], ['id-b', down]]));
    const v2 = assembleCatalog(servers, new Map([['id-a', healthy(['t'], '2025-02-01T00:00:00.000Z')], ['id-b', { ...down, error: 'timeout' }]]));
    const v3 = assembleCatalog(servers, new Map([['id-a', healthy(['t', 'u'])], ['id-b', down]]));
    expect(v2.version).toBe(v1.version);
    expect(v3.version).not.toBe(v1.version);
    expect(changedServerIds(v1, v3)).toEqual(['id-a']);
    expect(changedServerIds(null, v1)).toEqual(['id-a', 'id-b']);
    expect(changedServerIds(v1, assembleCatalog([server('a')], new Map([['id-a', healthy(['t'])]])))).toEqual(['id-b']);
    expect(changedServerIds(Catalog.parse(JSON.parse(JSON.stringify(v1))), v3)).toEqual(['id-a']); // a copy read back from the cache
  });

  it('versions a catalog as the hash of the canonical JSON of its servers (check times and errors aside) and names', () => {
    const catalog = assembleCatalog([server('a'), server('b')], new Map([['id-a', healthy(['t', 'u'])], ['id-b', down]]));
    const content = catalog.servers.map(({ checked_at: _c, error: _e, ...rest }) => rest);
    const expected = createHash('sha256').update(canonicalJson({ servers: content, aggregate_names: catalog.aggregate_names })).digest('hex').slice(0, 16);
    expect(catalog.version).toBe(expected);
  });
});
