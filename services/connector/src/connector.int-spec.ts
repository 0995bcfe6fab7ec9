import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect as netConnect } from 'node:net';
import { resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsBus, RpcHandler, startBusService } from '#libs/bus';
import {
  DomainError,
  FetchServerCatalog,
  ResolveServer,
  ServersChanged,
  UpstreamListChanged,
  UpstreamRequest,
  pingContract,
  type McpServerRuntime,
  type PayloadOf,
  type RequestOf,
} from '#libs/contracts';
import { JsonLogger } from '#libs/observability';
import { TEST_NATS_URL, testNamespace, waitFor } from '#libs/testing';
import { startCountingServer, type CountingServer } from '../../../test/fixtures/counting-server.js';
import { ConnectorModule } from './connector.module.js';
import { StreamableHttpTransport } from './upstream/http-transport.js';
import { UpstreamPool } from './upstream/upstream-pool.js';

const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');

/** What the stub registry answers to ResolveServer. */
const servers = new Map<string, McpServerRuntime>();
/** The connector's resolver: host names resolve here, never through DNS. */
const names = new Map<string, string[]>();
const resolver = async (host: string) => names.get(host) ?? [];
const runtime = (server_id: string, fields: Partial<McpServerRuntime>): McpServerRuntime => ({
  server_id,
  server_name: server_id,
  transport: 'http',
  url: null,
  command: null,
  args: [],
  env: {},
  auth_type: 'none',
  auth_value: null,
  static_headers: {},
  extra_headers: [],
  timeout: null,
  max_concurrent_requests: null,
  spec_version: null,
  revision: '1',
  ...fields,
});

@Controller()
class StubRegistryHandler {
  @RpcHandler(ResolveServer)
  resolve(@Payload() data: { server_id: string }) {
    const server = servers.get(data.server_id);
    if (!server) throw new DomainError('NOT_FOUND', `no server ${data.server_id}`);
    return server;
  }
}
@Module({ controllers: [StubRegistryHandler] })
class StubRegistryModule {}

/** heapUsed after a full collection (gc exposed at run time through v8 flags). */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => done(port));
    });
  });
}

async function startEverything(mode: 'sse' | 'streamableHttp'): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [EVERYTHING, mode], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
  await waitFor(
    () =>
      new Promise<boolean>((done) => {
        const socket = netConnect(port, '127.0.0.1', () => {
          socket.destroy();
          done(true);
        });
        socket.on('error', () => done(false));
      }),
    15_000,
    100,
  );
  return { child, port };
}

describe('connector (real NATS, real upstream MCP servers)', () => {
  let bus: NatsBus;
  let registry: INestMicroservice;
  let app: INestMicroservice;
  let pool: UpstreamPool;
  let counting: CountingServer;
  let slowServer: CountingServer;
  let serialServer: CountingServer;
  let pagedServer: CountingServer;
  const children: ChildProcess[] = [];
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => void warnings.push(warning);

  const call = (server_id: string, method: RequestOf<typeof UpstreamRequest>['method'], params?: Record<string, unknown>, extra: Partial<RequestOf<typeof UpstreamRequest>> = {}, timeoutMs = 10_000) =>
    bus.call(UpstreamRequest, { server_id, method, ...(params ? { params } : {}), ...extra }, { timeoutMs });
  const echo = async (server_id: string, text: string) => {
    const { result } = await call(server_id, 'tools/call', { name: 'echo', arguments: { text, message: text } });
    return (result.content as Array<{ text: string }>)[0].text;
  };

  beforeAll(async () => {
    process.on('warning', onWarning);
    const namespace = testNamespace();
    bus = await NatsBus.connect({ url: TEST_NATS_URL, namespace });
    const logger = new JsonLogger('connector-test', 'error');
    registry = await startBusService({ module: { module: StubRegistryModule }, bus, queueGroup: 'registry', logger });
    app = await startBusService({ module: ConnectorModule.register({ bus, pool: { restartInitialMs: 200, restartMaxMs: 1_000, resolver } }), bus, queueGroup: 'connector', logger });
    pool = app.get(UpstreamPool);

    [counting, slowServer, serialServer, pagedServer] = await Promise.all([
      startCountingServer(),
      startCountingServer(),
      startCountingServer(),
      startCountingServer({ toolsPageSize: 2 }),
    ]);
    const [sse, http] = await Promise.all([startEverything('sse'), startEverything('streamableHttp')]);
    children.push(sse.child, http.child);

    servers.set('counting', runtime('counting', { url: counting.url }));
    servers.set(
      'counting_auth',
      runtime('counting_auth', { url: counting.url, auth_type: 'bearer_token', auth_value: 'server-secret', static_headers: { 'X-Env': 'test' } }),
    );
    servers.set('counting_slow', runtime('counting_slow', { url: slowServer.url, timeout: 0.3 }));
    servers.set('counting_serial', runtime('counting_serial', { url: serialServer.url, max_concurrent_requests: 1 }));
    servers.set('counting_paged', runtime('counting_paged', { url: pagedServer.url, spec_version: '2025-06-18' }));
    servers.set('nowhere', runtime('nowhere', { url: 'http://127.0.0.1:1/mcp' }));
    servers.set('everything_stdio', runtime('everything_stdio', { transport: 'stdio', command: process.execPath, args: [EVERYTHING, 'stdio'] }));
    servers.set('everything_sse', runtime('everything_sse', { transport: 'sse', url: `http://127.0.0.1:${sse.port}/sse` }));
    servers.set('everything_http', runtime('everything_http', { transport: 'http', url: `http://127.0.0.1:${http.port}/mcp` }));
  });

  afterAll(async () => {
    process.off('warning', onWarning);
    await app?.close();
    await registry?.close();
    await bus?.close();
    await Promise.all([counting, slowServer, serialServer, pagedServer].map((s) => s?.close()));
    for (const child of children) child.kill('SIGTERM');
  });

  it('answers its health ping', async () => {
    await expect(bus.call(pingContract('connector'), {}, { timeoutMs: 2000 })).resolves.toEqual({ service: 'connector', checks: { bus: true } });
  });

  it('forwards tools/call and returns the result unchanged, an isError result included', async () => {
    expect(await echo('counting', 'hello')).toBe('hello');
    const { result } = await call('counting', 'tools/call', { name: 'add', arguments: { a: 2, b: 3 } });
    expect(result).toEqual({ content: [{ type: 'text', text: '5' }] });
    const failed = await call('counting', 'tools/call', { name: 'fail', arguments: {} });
    expect(failed.result).toEqual({ content: [{ type: 'text', text: 'this tool always fails' }], isError: true });
  });

  it('reuses one upstream session: 50 calls cause exactly one initialize', async () => {
    servers.set('counting_reuse', runtime('counting_reuse', { url: counting.url }));
    const before = counting.stats();
    for (let i = 0; i < 50; i++) expect(await echo('counting_reuse', `n${i}`)).toBe(`n${i}`);
    const after = counting.stats();
    expect(after.initialize - before.initialize).toBe(1);
    expect(after.toolsCall - before.toolsCall).toBe(50);
  });

  it('re-initializes transparently once when the upstream forgets the session (404)', async () => {
    await echo('counting', 'warm');
    const oldSession = pool.state('counting')?.session_id;
    const before = counting.stats();
    await counting.expireSessions();
    expect(await echo('counting', 'after expiry')).toBe('after expiry');
    expect(await echo('counting', 'and again')).toBe('and again');
    expect(counting.stats().initialize - before.initialize).toBe(1);
    expect(pool.state('counting')?.session_id).not.toBe(oldSession);
  });

  it('answers UPSTREAM_TIMEOUT when the upstream is slower than the server timeout', async () => {
    const started = Date.now();
    const error = await call('counting_slow', 'tools/call', { name: 'slow', arguments: { ms: 3000 } }).catch((e) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error.code).toBe('UPSTREAM_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1500);
    // the session stays usable
    expect(await echo('counting_slow', 'still here')).toBe('still here');
  });

  it('answers UPSTREAM_TIMEOUT, not a bus timeout, when the caller deadline is the shorter one', async () => {
    const error = await call('counting', 'tools/call', { name: 'slow', arguments: { ms: 2000 } }, {}, 400).catch((e) => e);
    expect(error).toMatchObject({ code: 'UPSTREAM_TIMEOUT' });
  });

  it('serializes calls with max_concurrent_requests 1, and a waiter gives up at its deadline', async () => {
    await echo('counting_serial', 'warm');
    const started = Date.now();
    await Promise.all([1, 2, 3].map(() => call('counting_serial', 'tools/call', { name: 'slow', arguments: { ms: 200 } })));
    expect(Date.now() - started).toBeGreaterThanOrEqual(580);

    const blocker = call('counting_serial', 'tools/call', { name: 'slow', arguments: { ms: 800 } });
    await new Promise((r) => setTimeout(r, 50));
    const waiter = await call('counting_serial', 'tools/call', { name: 'echo', arguments: { text: 'x' } }, {}, 300).catch((e) => e);
    expect(waiter).toMatchObject({ code: 'UPSTREAM_TIMEOUT' });
    await blocker;
  });

  it('sends the configured auth and static headers, and per-request forwarded headers win', async () => {
    const whoami = async (forward_headers?: Record<string, string>) => {
      const { result } = await call('counting_auth', 'tools/call', { name: 'whoami', arguments: {} }, forward_headers ? { forward_headers } : {});
      return JSON.parse((result.content as Array<{ text: string }>)[0].text) as Record<string, string>;
    };
    expect(await whoami()).toMatchObject({ authorization: 'Bearer server-secret', 'x-env': 'test' });
    const forwarded = await whoami({ authorization: 'Bearer client-token', 'x-request-source': 'ui' });
    expect(forwarded).toMatchObject({ authorization: 'Bearer client-token', 'x-request-source': 'ui', 'x-env': 'test' });
    // the next call without them is back to the server's own credentials, on the same session
    const plain = await whoami();
    expect(plain.authorization).toBe('Bearer server-secret');
    expect(plain['x-request-source']).toBeUndefined();
  });

  it('maps an upstream JSON-RPC error to NOT_FOUND with its code', async () => {
    const error = await call('counting', 'prompts/get', { name: 'nope' }).catch((e) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error.code).toBe('NOT_FOUND');
    expect(error.details).toMatchObject({ jsonrpc_code: -32601 });
  });

  it('answers UPSTREAM_UNAVAILABLE for an unreachable upstream and NOT_FOUND for an unknown server', async () => {
    await expect(call('nowhere', 'tools/list')).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    await expect(call('no_such_server', 'tools/list')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('fetches the whole catalog across pages with serverInfo and the negotiated protocol version', async () => {
    const catalog = await bus.call(FetchServerCatalog, { server_id: 'counting_paged' }, { timeoutMs: 10_000 });
    expect(catalog.tools.map((t) => t.name)).toEqual(['echo', 'add', 'slow', 'fail', 'whoami', 'touch_tools']);
    expect(catalog.server_info).toMatchObject({ name: 'counting-server' });
    expect(catalog.protocol_version).toBe('2025-06-18');
    const latest = await bus.call(FetchServerCatalog, { server_id: 'counting' }, { timeoutMs: 10_000 });
    expect(latest.protocol_version).toBe('2025-11-25');
  });

  it('publishes UpstreamListChanged when the upstream says its tools changed', async () => {
    const seen: PayloadOf<typeof UpstreamListChanged>[] = [];
    const off = bus.subscribe(UpstreamListChanged, (event) => void seen.push(event));
    await bus.flush();
    await echo('counting', 'warm'); // the session (and its GET notification stream) is open
    await waitFor(async () => {
      await call('counting', 'tools/call', { name: 'touch_tools', arguments: {} });
      return seen.some((e) => e.server_id === 'counting' && e.list === 'tools');
    }, 8_000, 300);
    off();
  });

  it('drops the definition and session on ServersChanged and reconnects when the revision differs', async () => {
    servers.set('counting_changing', runtime('counting_changing', { url: counting.url }));
    await echo('counting_changing', 'one');
    const first = pool.state('counting_changing')!;
    servers.set('counting_changing', runtime('counting_changing', { url: counting.url, revision: '2', static_headers: { 'X-Rev': '2' } }));
    bus.publish(ServersChanged, { server_id: 'counting_changing', server_name: 'counting_changing', change: 'updated' });
    await bus.flush();
    await waitFor(() => pool.state('counting_changing') === undefined);
    const { result } = await call('counting_changing', 'tools/call', { name: 'whoami', arguments: {} });
    expect(JSON.parse((result.content as Array<{ text: string }>)[0].text)).toMatchObject({ 'x-rev': '2' });
    const second = pool.state('counting_changing')!;
    expect(second.revision).toBe('2');
    expect(second.session_id).not.toBe(first.session_id);
  });

  it('checks the upstream address right before connecting, with the registry’s IP ranges: a refused one never gets a request', async () => {
    const blockLoopback = { blocked: ['127.0.0.0/8'], allowed: [] };
    const refused = async (server_id: string, message: RegExp) => {
      const before = counting.stats().initialize;
      const error = await call(server_id, 'tools/list').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: false, message: expect.stringMatching(message) });
      expect(counting.stats().initialize).toBe(before);
      expect(pool.state(server_id)?.connected).toBe(false);
    };
    // a literal address in a blocked range (Streamable HTTP and SSE alike)
    servers.set('guard_literal', runtime('guard_literal', { url: counting.url, ip_ranges: blockLoopback }));
    await refused('guard_literal', /refused: 127\.0\.0\.1 is in general_settings\.mcp_blocked_ip_ranges \(127\.0\.0\.0\/8\)/);
    servers.set('guard_sse', runtime('guard_sse', { transport: 'sse', url: counting.url.replace(/\/mcp$/, '/sse'), ip_ranges: blockLoopback }));
    await refused('guard_sse', /127\.0\.0\.1 is in general_settings\.mcp_blocked_ip_ranges/);

    // a name: connected through the address the resolver gave (never DNS) ...
    const url = `http://upstream.test:${counting.port}/mcp`;
    names.set('upstream.test', ['127.0.0.1']);
    servers.set('guard_name', runtime('guard_name', { url, revision: '1' }));
    expect(await echo('guard_name', 'via the checked address')).toBe('via the checked address');
    // ... and after the name moved to the metadata address (a DNS change after registration), the next session is refused
    names.set('upstream.test', ['169.254.169.254']);
    servers.set('guard_name', runtime('guard_name', { url, revision: '2' }));
    bus.publish(ServersChanged, { server_id: 'guard_name', server_name: 'guard_name', change: 'updated' });
    await bus.flush();
    await waitFor(() => pool.state('guard_name') === undefined);
    await refused('guard_name', /upstream\.test resolves to 169\.254\.169\.254, which is a link-local \(cloud metadata\) address: always refused/);
  });

  it.each(['everything_stdio', 'everything_sse', 'everything_http'])('calls server-everything echo over %s and fetches its catalog', async (id) => {
    expect(await echo(id, `hi ${id}`)).toContain(`hi ${id}`);
    const catalog = await bus.call(FetchServerCatalog, { server_id: id }, { timeoutMs: 15_000 });
    expect(catalog.tools.map((t) => t.name)).toContain('echo');
    expect(catalog.tools.length).toBeGreaterThan(3);
    expect(catalog.server_info).not.toBeNull();
    expect(catalog.protocol_version).toMatch(/^20\d\d-\d\d-\d\d$/);
  });

  it('restarts a stdio server that died, after the backoff', async () => {
    await echo('everything_stdio', 'before');
    const pid = pool.state('everything_stdio')!.pid!;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => pool.state('everything_stdio')?.connected === false);
    expect(pool.state('everything_stdio')!.restarts).toBe(1);
    const text = await waitFor(async () => echo('everything_stdio', 'after').catch(() => undefined), 10_000, 100);
    expect(text).toContain('after');
    const state = pool.state('everything_stdio')!;
    expect(state.pid).not.toBe(pid);
    expect(state.connected).toBe(true);
  });

  it('does not grow listeners over 2,000 sequential calls on one pooled HTTP session', async () => {
    servers.set('counting_leak', runtime('counting_leak', { url: counting.url }));
    await echo('counting_leak', 'warm');
    const transport = pool.transportOf('counting_leak') as StreamableHttpTransport;
    expect(transport).toBeInstanceOf(StreamableHttpTransport);
    const listenerCount = () => transport.sockets.reduce((sum, socket) => sum + socket.eventNames().reduce((n, e) => n + socket.listenerCount(e), 0), 0);
    for (let i = 0; i < 200; i++) await echo('counting_leak', 'x');
    const early = listenerCount();
    const heapEarly = heapAfterGc();
    const before = counting.stats().initialize;
    for (let i = 0; i < 1_800; i++) await echo('counting_leak', 'x');
    expect(counting.stats().initialize).toBe(before);
    expect(listenerCount()).toBeLessThanOrEqual(early);
    expect(transport.pendingRequests).toBe(0);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    // after a full GC, 1,800 calls retain well under 1 KB each (about 0.1 KB measured once warm)
    expect(heapAfterGc() - heapEarly).toBeLessThan(5 * 1024 * 1024);
  }, 60_000);
});
