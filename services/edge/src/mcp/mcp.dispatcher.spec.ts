import { describe, expect, it, vi } from 'vitest';
import { DomainError, MASTER_PRINCIPAL, type Catalog, type CatalogServer } from '#libs/contracts';
import type { Bus } from '#libs/bus';
import { AccessService } from '../catalog/access.service.js';
import { PreparedCatalog, type CatalogService } from '../catalog/catalog.service.js';
import type { AuditTrail } from '../auth/audit-trail.js';
import { JsonRpcError } from './jsonrpc.js';
import { forwardHeaders, McpDispatcher } from './mcp.dispatcher.js';
import type { SessionStore } from './session.store.js';

function server(name: string, tools: string[], extra: Partial<CatalogServer> = {}): CatalogServer {
  return {
    server_id: `id-${name}`,
    server_name: name,
    description: null,
    access_groups: [],
    allow_all_keys: false,
    allowed_tools: null,
    disallowed_tools: null,
    extra_headers: [],
    status: 'healthy',
    error: null,
    checked_at: new Date(0).toISOString(),
    tools: tools.map((t) => ({ name: t, inputSchema: { type: 'object' } })),
    ...extra,
  };
}

function setup(servers: CatalogServer[], busCall: (...args: unknown[]) => Promise<unknown>) {
  const catalog: Catalog = {
    version: 'v1',
    servers,
    aggregate_names: servers.flatMap((s) => s.tools.map((t) => ({ name: `${s.server_name}-${t.name}`, server_id: s.server_id, tool: t.name }))),
  };
  const prepared = new PreparedCatalog(catalog);
  const bus = { call: vi.fn(busCall) } as unknown as Bus;
  const catalogs = { current: async () => prepared } as unknown as CatalogService;
  const audit = { record: vi.fn() } as unknown as AuditTrail;
  const sessions = { markDedicated: vi.fn(), recordUpstream: vi.fn() } as unknown as SessionStore;
  const sut = new McpDispatcher(bus, catalogs, new AccessService(), audit, sessions);
  return { sut, bus, audit };
}

const session = { id: 's1', scope: 'aggregate', protocolVersion: '2025-11-25', ownerHash: null, clientInfo: null, clientCapabilities: {}, createdAt: 0 };
const ctx = { principal: MASTER_PRINCIPAL, scope: { kind: 'aggregate' as const }, headers: {}, session };
const call = (name: string) => ({ jsonrpc: '2.0' as const, id: 1, method: 'tools/call', params: { name, arguments: {} } });

describe('McpDispatcher', () => {
  it('lists prefixed names on the aggregate, filtered by the server\'s own allowed_tools', async () => {
    const { sut } = setup([server('a', ['x', 'y'], { allowed_tools: ['x'] }), server('b', ['z'])], async () => ({}));
    const list = JSON.parse(String(await sut.dispatch({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, ctx)));
    expect(list.tools.map((t: { name: string }) => t.name)).toEqual(['a-x', 'b-z']);
  });

  it('routes an aggregate name to its server and upstream name, and audits the call', async () => {
    const { sut, bus, audit } = setup([server('a', ['x'])], async () => ({ result: { content: [] } }));
    await sut.dispatch(call('a-x'), ctx);
    expect((bus.call as ReturnType<typeof vi.fn>).mock.calls[0]![1]).toMatchObject({ server_id: 'id-a', method: 'tools/call', params: { name: 'x' } });
    expect((audit.record as ReturnType<typeof vi.fn>).mock.calls[0]![0]).toMatchObject({ server_name: 'a', tool: 'x', status: 'success' });
  });

  it('refuses a tool that is not listed without any bus call', async () => {
    const { sut, bus } = setup([server('a', ['x'], { disallowed_tools: ['x'] })], async () => ({}));
    await expect(sut.dispatch(call('a-x'), ctx)).rejects.toThrow(JsonRpcError);
    await expect(sut.dispatch(call('nope'), ctx)).rejects.toMatchObject({ code: -32602 });
    expect(bus.call).not.toHaveBeenCalled();
  });

  it('turns an unreachable upstream into an isError result, and an upstream JSON-RPC error into the same error', async () => {
    const down = setup([server('a', ['x'])], async () => {
      throw new DomainError('UPSTREAM_UNAVAILABLE', 'connect ECONNREFUSED');
    });
    expect(JSON.parse(String(await down.sut.dispatch(call('a-x'), ctx)))).toMatchObject({ isError: true });
    const rejecting = setup([server('a', ['x'])], async () => {
      throw new DomainError('INVALID_ARGUMENT', 'bad arguments', { jsonrpc_code: -32602, data: { field: 'q' } });
    });
    await expect(rejecting.sut.dispatch(call('a-x'), ctx)).rejects.toMatchObject({ code: -32602, data: { field: 'q' } });
  });
});

describe('forwardHeaders', () => {
  it('passes x-mcp-{server}-authorization as Authorization and the listed extra headers, never the gateway key', () => {
    const s = server('gh', [], { extra_headers: ['X-Request-Source', 'authorization', 'x-litellm-api-key'] });
    expect(
      forwardHeaders(s, {
        'x-mcp-gh-authorization': 'Bearer upstream-token',
        'x-request-source': 'ide',
        authorization: 'Bearer sk-gateway',
        'x-litellm-api-key': 'Bearer sk-gateway',
        'x-mcp-other-authorization': 'Bearer not-for-gh',
      }),
    ).toEqual({ authorization: 'Bearer upstream-token', 'x-request-source': 'ide' });
    expect(forwardHeaders(s, {})).toBeUndefined();
  });
});
