import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InProcessBus } from '#libs/bus';
import { DomainError, KeysChanged, MASTER_PRINCIPAL, SessionEnded, sessionStreamEvent, UpstreamRequest, type CatalogServer, type Principal, type RequestOf } from '#libs/contracts';
import { waitFor } from '#libs/testing';
import type { AuditTrail } from '../auth/audit-trail.js';
import type { PrincipalService } from '../auth/principal.service.js';
import { AccessService } from '../catalog/access.service.js';
import { PreparedCatalog, type CatalogService } from '../catalog/catalog.service.js';
import type { EdgeSettings } from '../edge-settings.js';
import { McpDispatcher, type McpCallContext, type McpScope } from './mcp.dispatcher.js';
import { ModernRejection } from './modern.js';
import type { SessionStore } from './session.store.js';
import { SUBSCRIPTION_ID_META_KEY, SubscriptionListeners } from './subscriptions.js';

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
    capabilities: { tools: {} },
    ...extra,
  };
}

/** The edge's catalog: `set` swaps in a new version and tells the listeners, as a CatalogChanged would. */
class Catalogs {
  private version = 0;
  private prepared!: PreparedCatalog;
  private readonly listeners = new Set<(c: PreparedCatalog) => void>();
  constructor(servers: CatalogServer[]) {
    this.build(servers);
  }
  current = async () => this.prepared;
  onChange(listener: (c: PreparedCatalog) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(servers: CatalogServer[]): void {
    this.build(servers);
    for (const listener of this.listeners) listener(this.prepared);
  }
  private build(servers: CatalogServer[]): void {
    const aggregate_names = servers.flatMap((s) => s.tools.map((t) => ({ name: `${s.server_name}-${t.name}`, server_id: s.server_id, tool: t.name })));
    this.prepared = new PreparedCatalog({ version: `v${++this.version}`, servers, aggregate_names });
  }
}

/** A response as the listener writes it; `close` as when the client goes away. */
class FakeResponse extends EventEmitter {
  status?: number;
  chunks: string[] = [];
  headersSent = false;
  writableEnded = false;
  writeHead(status: number) {
    this.status = status;
    this.headersSent = true;
    return this;
  }
  write(chunk: string) {
    this.chunks.push(chunk);
    return true;
  }
  end(chunk?: string) {
    if (this.writableEnded) return this;
    if (chunk) this.chunks.push(chunk);
    this.headersSent = true;
    this.writableEnded = true;
    this.emit('close');
    return this;
  }
  /** The JSON-RPC messages written so far. */
  messages(): any[] {
    return this.chunks.join('').split('\n\n').flatMap((event) => event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6))));
  }
}

/** A key that may use server `a` only. */
const alice: Principal = {
  ...MASTER_PRINCIPAL,
  kind: 'virtual',
  token_hash: 'hash-alice',
  key_alias: 'alice',
  is_admin: false,
  levels: { key: { mcp_servers: ['a'], mcp_access_groups: [], mcp_tool_permissions: {} }, team: null, organization: null },
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function setup(servers: CatalogServer[]) {
  const bus = new InProcessBus();
  const catalogs = new Catalogs(servers);
  const keys = new Map<string, Principal>([['alice', alice]]);
  const principals = {
    authenticate: vi.fn(async (headers: Record<string, string>) => {
      const principal = keys.get(headers['x-litellm-api-key'] ?? '');
      if (!principal) throw new DomainError('UNAUTHENTICATED', 'API key is blocked', { reason: 'blocked' });
      return principal;
    }),
  } as unknown as PrincipalService;
  const access = new AccessService();
  const dispatcher = new McpDispatcher(bus, catalogs as unknown as CatalogService, access, { record: vi.fn() } as unknown as AuditTrail, {} as SessionStore);
  const settings = { file: { config: { general_settings: {} } }, env: { MAX_LISTEN_STREAMS_PER_KEY: 2 } } as unknown as EdgeSettings;
  const sut = new SubscriptionListeners(bus, catalogs as unknown as CatalogService, access, dispatcher, principals, settings);
  sut.onModuleInit();
  cleanups.push(() => bus.close(), () => sut.onModuleDestroy());

  // a connector whose upstream sessions record the URIs they subscribed
  const upstream = new Map<string, Set<string>>();
  bus.serve(UpstreamRequest, 'connectors', async (data) => {
    const req = data as RequestOf<typeof UpstreamRequest>;
    const uris = upstream.get(req.client!.session_id) ?? new Set<string>();
    upstream.set(req.client!.session_id, uris);
    if (req.method === 'resources/subscribe') uris.add(String(req.params?.uri));
    return { result: {}, instance: 'c1' };
  });
  bus.subscribe(SessionEnded, ({ session_id }) => void upstream.delete(session_id));
  const update = (uri: string) => {
    for (const [session, uris] of upstream) {
      if (uris.has(uri)) bus.publish(sessionStreamEvent(session), { message: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri } }) });
    }
  };

  const listen = async (notifications: unknown, options: { key?: string; scope?: McpScope; id?: string | number } = {}) => {
    const res = new FakeResponse();
    const headers = { 'x-litellm-api-key': options.key ?? 'alice', accept: 'application/json, text/event-stream' };
    const ctx: McpCallContext = {
      principal: keys.get(options.key ?? 'alice') ?? MASTER_PRINCIPAL,
      scope: options.scope ?? { kind: 'aggregate' },
      headers,
      session: { id: 'stateless', scope: 'aggregate', protocolVersion: '2026-07-28', ownerHash: null, clientInfo: null, clientCapabilities: {}, createdAt: 0, stateless: true },
    };
    const request = { jsonrpc: '2.0' as const, id: options.id ?? 'listen:1', method: 'subscriptions/listen', params: { notifications } };
    await sut.open(request, ctx, { headers } as unknown as IncomingMessage, res as unknown as ServerResponse);
    return res;
  };
  return { sut, bus, catalogs, keys, listen, update, upstream };
}

/** Lets the listeners evaluate a catalog change: everything they await here settles within one turn of the event loop. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

const meta = (id: string | number) => ({ _meta: { [SUBSCRIPTION_ID_META_KEY]: id } });

describe('SubscriptionListeners', () => {
  it('acknowledges first, with the subset it honours, stamped with the listen request id', async () => {
    const { listen } = setup([
      server('a', ['x'], { capabilities: { tools: {}, resources: { subscribe: true } }, resources: [{ uri: 'file:///a.txt', name: 'a' }] }),
      server('b', ['y'], { capabilities: { tools: {}, resources: { subscribe: true } }, resources: [{ uri: 'file:///b.txt', name: 'b' }] }),
    ]);
    const res = await listen({ toolsListChanged: true, promptsListChanged: false, resourceSubscriptions: ['file:///a.txt', 'file:///b.txt', 'file:///nowhere'] }, { id: 7 });
    expect(res.status).toBe(200);
    expect(res.writableEnded).toBe(false);
    // b's resource is not alice's to read, and no server lists the last one
    expect(res.messages()).toEqual([
      { jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { ...meta(7), notifications: { toolsListChanged: true, resourceSubscriptions: ['file:///a.txt'] } } },
    ]);
  });

  it('does not promise the lists a server endpoint does not offer', async () => {
    const { listen } = setup([server('a', ['x'])]);
    const res = await listen({ toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true }, { scope: { kind: 'server', serverName: 'a' } });
    expect(res.messages()[0].params.notifications).toEqual({ toolsListChanged: true });
  });

  it('announces a change of a list as the caller sees it: never one of a server it may not use, never a type it did not ask for', async () => {
    const { listen, catalogs } = setup([server('a', ['x']), server('b', ['y'])]);
    const res = await listen({ toolsListChanged: true });
    catalogs.set([server('a', ['x']), server('b', ['y', 'z'])]); // b only: not alice's
    await settled();
    catalogs.set([server('a', ['x'], { prompts: [{ name: 'p' }] }), server('b', ['y', 'z'])]); // a's prompts: not asked for
    await settled();
    expect(res.messages()).toHaveLength(1);
    catalogs.set([server('a', ['x', 'w'], { prompts: [{ name: 'p' }] }), server('b', ['y', 'z'])]);
    await settled();
    expect(res.messages()).toHaveLength(2);
    expect(res.messages()[1]).toEqual({ jsonrpc: '2.0', method: 'notifications/tools/list_changed', params: meta('listen:1') });
    catalogs.set([server('a', ['x', 'w'], { status: 'unhealthy', tools: [] }), server('b', ['y', 'z'])]); // a's tools are gone
    await settled();
    expect(res.messages()).toHaveLength(3);
  });

  it('relays the upstream updates of a subscribed resource until the client goes, then lets go of the upstream subscription', async () => {
    const { listen, update, upstream } = setup([server('a', ['x'], { capabilities: { resources: { subscribe: true } }, resources: [{ uri: 'file:///a.txt', name: 'a' }] })]);
    const res = await listen({ resourceSubscriptions: ['file:///a.txt'] });
    expect([...upstream.values()].map((uris) => [...uris])).toEqual([['file:///a.txt']]);
    update('file:///a.txt');
    await waitFor(() => res.messages().length === 2, 2000);
    expect(res.messages()[1]).toEqual({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'file:///a.txt', ...meta('listen:1') } });
    res.emit('close');
    await waitFor(() => upstream.size === 0, 2000);
  });

  it('holds at most MAX_LISTEN_STREAMS_PER_KEY streams of one key (429, -32029 past it); a closed one frees its place; the master key has no cap', async () => {
    const { listen, sut } = setup([server('a', ['x'])]);
    const [first] = [await listen({ toolsListChanged: true }, { id: 1 }), await listen({ toolsListChanged: true }, { id: 2 })];
    await expect(listen({ toolsListChanged: true }, { id: 3 })).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { limit: 2, limit_name: 'listen_streams' } });
    for (let id = 10; id < 14; id++) await listen({ toolsListChanged: true }, { id, key: 'master' });
    expect(sut.size).toBe(6);
    first!.emit('close');
    expect((await listen({ toolsListChanged: true }, { id: 4 })).status).toBe(200);
  });

  it('ends the stream with an error when its key is blocked', async () => {
    const { listen, keys, bus, sut } = setup([server('a', ['x'])]);
    const res = await listen({ toolsListChanged: true });
    keys.delete('alice');
    bus.publish(KeysChanged, { token_hashes: ['hash-alice'], reason: 'blocked' });
    await waitFor(() => res.writableEnded, 2000);
    expect(res.messages()[1]).toMatchObject({ id: 'listen:1', error: { code: -32001 } });
    expect(sut.size).toBe(0);
  });

  it('ends every stream with the listen result when the replica stops, and takes no new listen', async () => {
    const { listen, sut } = setup([server('a', ['x'])]);
    const res = await listen({ toolsListChanged: true });
    sut.close();
    expect(res.writableEnded).toBe(true);
    expect(res.messages()[1]).toEqual({ jsonrpc: '2.0', id: 'listen:1', result: { resultType: 'complete', _meta: { [SUBSCRIPTION_ID_META_KEY]: 'listen:1', 'io.modelcontextprotocol/serverInfo': expect.any(Object) } } });
    await expect(listen({ toolsListChanged: true })).rejects.toBeInstanceOf(ModernRejection);
  });

  it('answers a malformed filter with -32602 and opens nothing', async () => {
    const { listen, sut } = setup([server('a', ['x'])]);
    const res = await listen({ toolsListChanged: 'yes' });
    expect(res.writableEnded).toBe(true);
    expect(JSON.parse(res.chunks.join(''))).toMatchObject({ id: 'listen:1', error: { code: -32602 } });
    expect(sut.size).toBe(0);
  });
});
