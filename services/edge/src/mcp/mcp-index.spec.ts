import { describe, expect, it } from 'vitest';
import { instanceOfClientRequestId, clientRequestId, type Catalog, type CatalogServer } from '#libs/contracts';
import { PreparedCatalog } from '../catalog/catalog.service.js';
import { featureKey, McpIndex, templatePattern, toolsFor } from './mcp-index.js';

function server(name: string, extra: Partial<CatalogServer> = {}): CatalogServer {
  return {
    server_id: `id-${name}`,
    server_name: name,
    description: null,
    access_groups: [],
    allow_all_keys: true,
    allowed_tools: null,
    disallowed_tools: null,
    extra_headers: [],
    status: 'healthy',
    error: null,
    checked_at: new Date(0).toISOString(),
    tools: [{ name: 'echo', inputSchema: { type: 'object' } }],
    ...extra,
  };
}

const index = (servers: CatalogServer[]) => new McpIndex(new PreparedCatalog({ version: 'v', servers, aggregate_names: [] } as Catalog));

describe('McpIndex', () => {
  it('prefixes prompt and template names like tools and routes a prefixed prompt to its server', () => {
    const sut = index([
      server('a', { prompts: [{ name: 'greet' }], resource_templates: [{ uriTemplate: 'a://{id}', name: 'item by id' }] }),
      server('b', { prompts: [{ name: 'greet' }] }),
    ]);
    expect(sut.promptRoutes.get('a-greet')).toMatchObject({ name: 'greet', server: { server_name: 'a' } });
    expect(sut.promptRoutes.get('b-greet')).toMatchObject({ server: { server_name: 'b' } });
    expect(sut.templateNames.get('id-a')?.get('item by id')).toBe('a-item_by_id');
  });

  it('routes a URI by the servers that list it, else by the templates that match it', () => {
    const sut = index([
      server('a', { resources: [{ uri: 'file:///shared' }, { uri: 'a://one' }], resource_templates: [{ uriTemplate: 'a://items/{id}/data' }] }),
      server('b', { resources: [{ uri: 'file:///shared' }] }),
      server('down', { status: 'unhealthy', resources: [{ uri: 'down://x' }] }),
    ]);
    expect(sut.serversForUri('a://one')).toEqual(['id-a']);
    expect(sut.serversForUri('file:///shared')).toEqual(['id-a', 'id-b']);
    expect(sut.serversForUri('a://items/7/data')).toEqual(['id-a']);
    expect(sut.serversForUri('a://items/7/other')).toEqual([]);
    expect(sut.serversForUri('down://x')).toEqual([]);
  });
});

describe('templatePattern', () => {
  it.each([
    ['demo://resource/dynamic/text/{id}', 'demo://resource/dynamic/text/12', true],
    ['demo://resource/dynamic/text/{id}', 'demo://resource/dynamic/text/', false],
    ['file:///{+path}', 'file:///a/b/c.txt', true],
    ['search://q{?term,limit}', 'search://q?term=x&limit=2', true],
    ['x://a.b/{id}', 'x://aXb/1', false],
  ])('%s matches %s: %s', (template, uri, matches) => {
    expect(templatePattern(template).test(uri)).toBe(matches);
  });
});

describe('capability sets', () => {
  it('keys the declared features and lists the extra tools of each', () => {
    expect(featureKey({ sampling: {}, roots: { listChanged: true }, experimental: {} })).toBe('roots+sampling');
    expect(featureKey({})).toBe('');
    const s = server('a', { capability_tools: { sampling: [{ name: 'sample', inputSchema: { type: 'object' } }], roots: [{ name: 'roots', inputSchema: { type: 'object' } }] } });
    expect(toolsFor(s, '').map((t) => t.name)).toEqual(['echo']);
    expect(toolsFor(s, 'sampling').map((t) => t.name)).toEqual(['echo', 'sample']);
    expect(toolsFor(s, 'roots+sampling').map((t) => t.name)).toEqual(['echo', 'roots', 'sample']);
  });
});

describe('client request ids', () => {
  it('name the connector instance, whatever dashes it holds', () => {
    expect(instanceOfClientRequestId(clientRequestId('a1b2c3', 7))).toBe('a1b2c3');
    expect(instanceOfClientRequestId(clientRequestId('x-y', 12))).toBe('x-y');
    expect(instanceOfClientRequestId('other-1')).toBeUndefined();
    expect(instanceOfClientRequestId(5)).toBeUndefined();
  });
});
