import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessBus, RpcHandler, startBusService } from '#libs/bus';
import { DomainError, FetchServerCatalog, ResolveServer, ServersChanged, SessionEnded, UpstreamRequest, type McpServerRuntime, type RequestOf, type StreamedClientMessage } from '#libs/contracts';
import { JsonLogger } from '#libs/observability';
import { waitFor } from '#libs/testing';
import { startCountingServer, type CountingServer } from '../../../../test/fixtures/counting-server.js';
import { ConnectorModule } from '../connector.module.js';
import { UpstreamPool } from './upstream-pool.js';

// Per-client upstream sessions: made lazily for clients that need their own, shared pooled session for the rest,
// closed when idle or when the client session ends, capped for stdio; progress tokens never collide.

const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const servers = new Map<string, McpServerRuntime>();
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

describe('per-client upstream sessions (in-process bus, real upstreams)', () => {
  const bus = new InProcessBus();
  let registry: INestMicroservice;
  let app: INestMicroservice;
  let pool: UpstreamPool;
  let counting: CountingServer;
  let plain: CountingServer;
  let gated: CountingServer;

  const client = (session_id: string, dedicated = false, capabilities: Record<string, unknown> = {}) => ({ session_id, capabilities, dedicated });
  const call = (req: RequestOf<typeof UpstreamRequest>, onMessage?: (m: StreamedClientMessage) => void) =>
    bus.call(UpstreamRequest, req, { timeoutMs: 20_000, ...(onMessage ? { onMessage: onMessage as (m: unknown) => void } : {}) });

  beforeAll(async () => {
    const logger = new JsonLogger('client-sessions-test', 'error');
    registry = await startBusService({ module: { module: StubRegistryModule }, bus, queueGroup: 'registry', logger });
    app = await startBusService({
      module: ConnectorModule.register({ bus, pool: { clientSessionIdleMs: 600, maxClientStdioSessions: 1 } }),
      bus,
      queueGroup: 'connector',
      logger,
    });
    pool = app.get(UpstreamPool);
    counting = await startCountingServer();
    servers.set('counting', runtime('counting', { url: counting.url }));
    plain = await startCountingServer();
    servers.set('plain', runtime('plain', { url: plain.url }));
    gated = await startCountingServer({ samplingTools: true });
    servers.set('gated', runtime('gated', { url: gated.url }));
    servers.set('everything_stdio', runtime('everything_stdio', { transport: 'stdio', command: process.execPath, args: [EVERYTHING, 'stdio'] }));
  });

  afterAll(async () => {
    await app?.close();
    await registry?.close();
    await bus.close();
    await counting?.close();
    await plain?.close();
    await gated?.close();
  });

  it('gives a client that needs one its own upstream session, names its instance, and keeps the pooled one shared', async () => {
    const echo = { name: 'echo', arguments: { text: 'x' } };
    await call({ server_id: 'counting', method: 'tools/call', params: echo, client: client('plain-1') });
    await call({ server_id: 'counting', method: 'tools/call', params: echo, client: client('plain-2') });
    const pooled = counting.stats().initialize;
    expect(pooled).toBe(1);
    const own = await call({ server_id: 'counting', method: 'tools/call', params: echo, client: client('own-1', true) });
    expect(own.instance).toBe(pool.instance);
    await call({ server_id: 'counting', method: 'tools/call', params: echo, client: client('own-1', true) });
    expect(counting.stats().initialize).toBe(pooled + 1); // one more, once
    expect(pool.clientSessions('counting')).toEqual(['own-1']);
  });

  it('closes a client upstream session when its client session ends', async () => {
    await call({ server_id: 'counting', method: 'tools/call', params: { name: 'echo', arguments: { text: 'y' } }, client: client('ending', true) });
    expect(pool.clientSessions('counting')).toContain('ending');
    bus.publish(SessionEnded, { session_id: 'ending' });
    await waitFor(() => !pool.clientSessions('counting').includes('ending'), 5_000, 20);
  });

  it('closes a client upstream session after the idle timeout', async () => {
    await call({ server_id: 'counting', method: 'tools/call', params: { name: 'echo', arguments: { text: 'z' } }, client: client('idle', true) });
    expect(pool.clientSessions('counting')).toContain('idle');
    await waitFor(() => !pool.clientSessions('counting').includes('idle'), 5_000, 50);
  });

  it('caps per-client stdio processes per server: past the cap a client shares its capability set session', async () => {
    const sampling = { sampling: {} };
    const list = { server_id: 'everything_stdio', method: 'tools/call' as const, params: { name: 'echo', arguments: { message: 'hi' } } };
    const first = await call({ ...list, client: client('stdio-1', true, sampling) });
    const second = await call({ ...list, client: client('stdio-2', true, sampling) });
    expect(first.instance).toBe(pool.instance);
    expect(second.instance).toBeUndefined(); // shared: nothing to record
    expect(pool.clientSessions('everything_stdio')).toEqual(['stdio-1']);
  });

  it('lists the tools a stdio server shows per declared capability once, without keeping a process per capability', async () => {
    const first = await bus.call(FetchServerCatalog, { server_id: 'everything_stdio' }, { timeoutMs: 30_000 });
    expect(first.capability_tools.sampling?.map((t) => t.name)).toContain('trigger-sampling-request');
    expect(first.capability_tools.roots?.map((t) => t.name)).toContain('get-roots-list');
    expect(first.tools.map((t) => t.name)).not.toContain('trigger-sampling-request');
    await waitFor(() => !pool.openSessions('everything_stdio').some((key) => key.startsWith('catalog:')), 5_000, 20);
    const second = await bus.call(FetchServerCatalog, { server_id: 'everything_stdio' }, { timeoutMs: 30_000 });
    expect(second.capability_tools).toEqual(first.capability_tools);
    expect(pool.openSessions('everything_stdio').some((key) => key.startsWith('catalog:'))).toBe(false);
  });

  it('lists an HTTP server with no capability-only tools on two sessions: the pooled one and one declaring every capability', async () => {
    const catalog = await bus.call(FetchServerCatalog, { server_id: 'plain' }, { timeoutMs: 20_000 });
    expect(catalog.tools.map((t) => t.name)).toContain('echo');
    expect(catalog.capability_tools).toEqual({});
    expect(plain.stats().initialize).toBe(2);
    expect(pool.openSessions('plain').sort()).toEqual(['', 'catalog:elicitation+roots+sampling']);
    await bus.call(FetchServerCatalog, { server_id: 'plain' }, { timeoutMs: 20_000 });
    expect(plain.stats().initialize).toBe(2); // both sessions are kept for the next fetch
  });

  it('asks each capability on a session of its own only when the one declaring them all lists more', async () => {
    const catalog = await bus.call(FetchServerCatalog, { server_id: 'gated' }, { timeoutMs: 20_000 });
    expect(catalog.tools.map((t) => t.name)).not.toContain('ask_model');
    expect(catalog.capability_tools).toEqual({ sampling: [expect.objectContaining({ name: 'ask_model' })] });
    expect(gated.stats().initialize).toBe(5);
  });

  it("keeps the sessions of a changed server's new definition while those of the old one are still closing", async () => {
    // an upstream that accepts connections and never answers: a connect to it stays in flight (closing waits ~2 s for it)
    const sockets = new Set<Socket>();
    const silent: NetServer = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    try {
      const port = (silent.address() as { port: number }).port;
      servers.set('moving', runtime('moving', { url: `http://127.0.0.1:${port}/mcp`, revision: '1', timeout: 3 }));
      const stuck = bus.call(FetchServerCatalog, { server_id: 'moving' }, { timeoutMs: 20_000 }).catch((error: unknown) => error);
      await waitFor(() => sockets.size > 0, 5_000, 10);
      servers.set('moving', runtime('moving', { url: plain.url, revision: '2' }));
      bus.publish(ServersChanged, { server_id: 'moving', server_name: 'moving', change: 'updated' });
      const catalog = await bus.call(FetchServerCatalog, { server_id: 'moving' }, { timeoutMs: 20_000 });
      expect(catalog.tools.map((t) => t.name)).toContain('echo');
      await new Promise((r) => setTimeout(r, 2_500)); // the old entry has closed by now
      expect(pool.openSessions('moving')).toContain('');
      await stuck;
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('rewrites progress tokens: two clients using the same token on the pooled session each get only their own progress', async () => {
    const progress: Record<string, number[]> = { a: [], b: [] };
    const run = (who: 'a' | 'b') =>
      call(
        {
          server_id: 'everything_stdio',
          method: 'tools/call',
          params: { name: 'trigger-long-running-operation', arguments: { duration: 0.5, steps: 5 }, _meta: { progressToken: 'same-token' } },
          client: client(`progress-${who}`),
        },
        (m) => {
          expect(m.message.method).toBe('notifications/progress');
          expect((m.message.params as { progressToken: unknown }).progressToken).toBe('same-token');
          progress[who]!.push((m.message.params as { progress: number }).progress);
        },
      );
    await Promise.all([run('a'), run('b')]);
    expect(progress.a).toEqual([1, 2, 3, 4, 5]);
    expect(progress.b).toEqual([1, 2, 3, 4, 5]);
  });
});
