import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsBus, RpcHandler, startBusService } from '#libs/bus';
import { deleteRedisKeys, openStores, type Stores } from '#libs/cache';
import {
  CatalogChanged,
  CreateServer,
  DeleteServer,
  DomainError,
  FetchServerCatalog,
  GetCatalog,
  GetServer,
  GetServerHealth,
  ListAccessGroups,
  ListServers,
  McpServerSpec,
  ResolveServer,
  ServersChanged,
  UpdateServer,
  UpstreamListChanged,
  type PayloadOf,
} from '#libs/contracts';
import { JsonLogger } from '#libs/observability';
import { TEST_DATABASE_KINDS, TEST_NATS_URL, TEST_REDIS_URL, openTestDatabase, testNamespace, uniqueId, waitFor, type TestDatabase } from '#libs/testing';
import { openRegistryDatabase } from './database.js';
import { RegistryPing } from './handlers/ping.handler.js';
import type { RegistryOptions } from './options.js';
import { RegistryModule } from './registry.module.js';
import { CredentialCipher } from './servers/credential-cipher.js';
import { ServerRepository } from './servers/server.repository.js';
import { ServerSeeder } from './servers/server-seeder.js';
import { UpstreamPolicy } from './servers/upstream-policy.js';

/** What the fake connector answers per server name; 'down' fails the fetch like an unreachable upstream. */
const upstreams = new Map<string, string[] | 'down'>();
const fetchCounts = new Map<string, number>();
let connectorBus: NatsBus;

@Controller()
class FakeConnector {
  @RpcHandler(FetchServerCatalog)
  async fetch(@Payload() request: { server_id: string }) {
    const server = await connectorBus.call(ResolveServer, { server_id: request.server_id }, { timeoutMs: 2000 });
    fetchCounts.set(server.server_name, (fetchCounts.get(server.server_name) ?? 0) + 1);
    const tools = upstreams.get(server.server_name) ?? ['echo'];
    if (tools === 'down') throw new DomainError('UPSTREAM_UNAVAILABLE', `connect ECONNREFUSED ${server.url}`);
    return { tools: tools.map((name) => ({ name, inputSchema: { type: 'object' } })), server_info: { name: server.server_name }, protocol_version: '2025-06-18' };
  }
}
@Module({ controllers: [FakeConnector] })
class FakeConnectorModule {}

const SECRET = 'ghp_verysecrettoken_9876';
const seedServers: Record<string, McpServerSpec> = {
  seeded_one: McpServerSpec.parse({ url: 'https://seeded.example/mcp', transport: 'http', auth_type: 'bearer_token', auth_value: 'seed-secret-value-1234', access_groups: ['dev'] }),
};

describe.each(TEST_DATABASE_KINDS)('registry service (real Redis and NATS, database: %s)', (kind) => {
  let database: TestDatabase;
  const redisPrefix = `${uniqueId('sbtest_')}:`;
  const logger = new JsonLogger('registry-test', 'error');
  const cipher = new CredentialCipher('test-salt-key');
  // Upstream host names resolve to a documentation address here: no test asks DNS.
  const resolver = async () => ['203.0.113.10'];
  const options: RegistryOptions = { seedServers, unhealthyRefreshMs: 300, healthyRefreshMs: 60_000, maxFetchMs: 2000, resolver };
  let bus: NatsBus;
  let listener: NatsBus;
  let dataSource: DataSource;
  let stores: Stores;
  let app: INestMicroservice;
  let connector: INestMicroservice;
  const serversChanged: PayloadOf<typeof ServersChanged>[] = [];
  const catalogChanged: PayloadOf<typeof CatalogChanged>[] = [];
  const call = <T>(p: Promise<T>) => p.catch((e: unknown) => e as DomainError);

  async function startReplica(): Promise<{ app: INestMicroservice; bus: NatsBus; dataSource: DataSource; stores: Stores }> {
    const replicaBus = await NatsBus.connect({ url: TEST_NATS_URL, namespace: bus.namespace.slice(0, -1) });
    const replicaDb = await openRegistryDatabase(database.target);
    const replicaStores = openStores({ redisUrl: TEST_REDIS_URL, prefix: redisPrefix });
    const replica = await startBusService({
      module: RegistryModule.register({ bus: replicaBus, dataSource: replicaDb, stores: replicaStores, cipher, options }),
      bus: replicaBus,
      queueGroup: 'registry',
      logger,
    });
    return { app: replica, bus: replicaBus, dataSource: replicaDb, stores: replicaStores };
  }

  beforeAll(async () => {
    const namespace = testNamespace();
    bus = await NatsBus.connect({ url: TEST_NATS_URL, namespace });
    listener = await NatsBus.connect({ url: TEST_NATS_URL, namespace });
    listener.subscribe(ServersChanged, (p) => void serversChanged.push(p));
    listener.subscribe(CatalogChanged, (p) => void catalogChanged.push(p));
    await listener.flush();
    connectorBus = await NatsBus.connect({ url: TEST_NATS_URL, namespace });
    connector = await startBusService({ module: { module: FakeConnectorModule }, bus: connectorBus, queueGroup: 'connector', logger });
    database = await openTestDatabase(kind);
    dataSource = await openRegistryDatabase(database.target);
    stores = openStores({ redisUrl: TEST_REDIS_URL, prefix: redisPrefix });
    app = await startBusService({ module: RegistryModule.register({ bus, dataSource, stores, cipher, options }), bus, queueGroup: 'registry', logger });
  });

  afterAll(async () => {
    await app?.close();
    await connector?.close();
    await Promise.all([bus, listener, connectorBus].map((b) => b?.close()));
    await dataSource?.destroy();
    await deleteRedisKeys(TEST_REDIS_URL, redisPrefix);
    await stores?.close();
    await database?.close();
  });

  it('answers its ping with bus, postgres, store and catalog checks (catalog: every server fetched once)', async () => {
    const ping = await waitFor(async () => {
      const reply = await bus.call(RegistryPing, {}, { timeoutMs: 2000 });
      return reply.checks.catalog ? reply : undefined;
    });
    expect(ping).toEqual({ service: 'registry', checks: { bus: true, postgres: true, store: true, catalog: true } });
  });

  it('seeds servers from the config at start, with masked credentials', async () => {
    const { servers } = await bus.call(ListServers, {}, { timeoutMs: 2000 });
    expect(servers.map((s) => [s.server_name, s.source, s.auth_value])).toEqual([['seeded_one', 'config', '****1234']]);
  });

  it('creates, reads, updates and deletes servers through the bus contracts, announcing each change', async () => {
    const created = await bus.call(
      CreateServer,
      { server_name: 'alpha', url: 'https://alpha.example/mcp', transport: 'http', auth_type: 'bearer_token', auth_value: SECRET, env: { API_TOKEN: 'env-secret' }, mcp_access_groups: ['dev', 'ops'] } as never,
      { timeoutMs: 2000 },
    );
    expect(created).toMatchObject({ server_name: 'alpha', source: 'api', auth_value: '****9876', env: { API_TOKEN: '****' }, access_groups: ['dev', 'ops'], transport: 'http' });

    // secrets are ciphertext in the table
    const [raw] = await dataSource.query(`SELECT auth_value, env FROM mcp_servers WHERE server_name = 'alpha'`);
    expect(raw.auth_value).toMatch(/^enc:v1:/);
    expect(raw.auth_value).not.toContain('verysecret');
    expect(raw.env).toMatch(/^enc:v1:/);
    expect(raw.env).not.toContain('env-secret');

    expect(await bus.call(GetServer, { server: 'alpha' }, { timeoutMs: 2000 })).toEqual(created);
    expect(await bus.call(GetServer, { server: created.server_id }, { timeoutMs: 2000 })).toEqual(created);

    const runtime = await bus.call(ResolveServer, { server_id: created.server_id }, { timeoutMs: 2000 });
    expect(runtime).toMatchObject({ auth_value: SECRET, env: { API_TOKEN: 'env-secret' } });

    const updated = await bus.call(UpdateServer, { server_id: created.server_id, description: 'Alpha tools', timeout: 5 }, { timeoutMs: 2000 });
    expect(updated).toMatchObject({ description: 'Alpha tools', timeout: 5, url: 'https://alpha.example/mcp', transport: 'http', auth_value: '****9876', access_groups: ['dev', 'ops'] });
    const runtime2 = await bus.call(ResolveServer, { server_id: created.server_id }, { timeoutMs: 2000 });
    expect(runtime2.revision).not.toBe(runtime.revision);
    expect(runtime2.auth_value).toBe(SECRET);

    expect(await bus.call(ListAccessGroups, {}, { timeoutMs: 2000 })).toEqual({
      access_groups: [
        { name: 'dev', servers: ['alpha', 'seeded_one'] },
        { name: 'ops', servers: ['alpha'] },
      ],
    });

    expect(await bus.call(DeleteServer, { server: 'alpha' }, { timeoutMs: 2000 })).toEqual({ server_id: created.server_id, server_name: 'alpha', deleted: true });
    await waitFor(() => serversChanged.filter((e) => e.server_name === 'alpha').length === 3);
    expect(serversChanged.filter((e) => e.server_name === 'alpha').map((e) => e.change)).toEqual(['created', 'updated', 'deleted']);
  });

  it('refuses a duplicate name with CONFLICT, unknown servers with NOT_FOUND, bad merges with INVALID_ARGUMENT', async () => {
    const dup = await call(bus.call(CreateServer, { server_name: 'seeded_one', url: 'https://x.example/mcp' } as never, { timeoutMs: 2000 }));
    expect(dup).toMatchObject({ code: 'CONFLICT', message: 'server_name "seeded_one" already exists', details: { field: 'server_name' } });
    expect(await call(bus.call(GetServer, { server: 'nope' }, { timeoutMs: 2000 }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await call(bus.call(DeleteServer, { server: 'nope' }, { timeoutMs: 2000 }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await call(bus.call(UpdateServer, { server_id: 'nope', description: 'x' }, { timeoutMs: 2000 }))).toMatchObject({ code: 'NOT_FOUND' });
    const bad = await call(bus.call(UpdateServer, { server_id: 'seeded_one', transport: 'stdio' }, { timeoutMs: 2000 }));
    expect(bad).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'command' } });
    const renamed = await call(bus.call(CreateServer, { server_name: 'beta', url: 'https://beta.example/mcp' } as never, { timeoutMs: 2000 }));
    const clash = await call(bus.call(UpdateServer, { server_id: 'beta', server_name: 'seeded_one' }, { timeoutMs: 2000 }));
    expect(clash).toMatchObject({ code: 'CONFLICT', details: { field: 'server_name' } });
    await bus.call(DeleteServer, { server: (renamed as { server_id: string }).server_id }, { timeoutMs: 2000 });
  });

  it('builds the catalog in parallel, listing a down server as unhealthy without failing the rest', async () => {
    upstreams.set('good', ['search', 'fetch']);
    upstreams.set('broken', 'down');
    const good = await bus.call(CreateServer, { server_name: 'good', url: 'https://good.example/mcp', transport: 'http' } as never, { timeoutMs: 2000 });
    const broken = await bus.call(CreateServer, { server_name: 'broken', url: 'https://broken.example/mcp', transport: 'http' } as never, { timeoutMs: 2000 });

    const catalog = await waitFor(async () => {
      const c = await bus.call(GetCatalog, {}, { timeoutMs: 5000 });
      return c.servers.length === 3 && c.servers.every((s) => s.checked_at !== new Date(0).toISOString()) ? c : null;
    });
    expect(catalog.servers.map((s) => [s.server_name, s.status, s.tools.length])).toEqual([
      ['broken', 'unhealthy', 0],
      ['good', 'healthy', 2],
      ['seeded_one', 'healthy', 1],
    ]);
    expect(catalog.servers[0]!.error).toContain('ECONNREFUSED');
    expect(catalog.aggregate_names.map((n) => n.name)).toEqual(['good-fetch', 'good-search', 'seeded_one-echo']);
    await waitFor(() => catalogChanged.some((e) => e.version === catalog.version));

    const health = await bus.call(GetServerHealth, {}, { timeoutMs: 2000 });
    expect(health.servers.find((s) => s.server_name === 'broken')).toMatchObject({ status: 'unhealthy', tool_count: 0 });
    expect(health.servers.find((s) => s.server_name === 'good')).toMatchObject({ status: 'healthy', tool_count: 2, error: null });
    expect((await bus.call(GetServerHealth, { server: 'good' }, { timeoutMs: 2000 })).servers).toHaveLength(1);

    // the broken server comes back: the unhealthy re-check finds it and the catalog changes
    upstreams.set('broken', ['status']);
    const back = await waitFor(async () => {
      const c = await bus.call(GetCatalog, {}, { timeoutMs: 5000 });
      return c.aggregate_names.some((n) => n.name === 'broken-status') ? c : null;
    });
    await waitFor(() => catalogChanged.some((e) => e.version === back.version && e.server_ids.includes(broken.server_id)));

    // upstream list_changed refetches that one server
    const before = fetchCounts.get('good') ?? 0;
    upstreams.set('good', ['search', 'fetch', 'summarize']);
    listener.publish(UpstreamListChanged, { server_id: good.server_id, list: 'tools' });
    const changed = await waitFor(async () => {
      const c = await bus.call(GetCatalog, {}, { timeoutMs: 5000 });
      return c.aggregate_names.some((n) => n.name === 'good-summarize') ? c : null;
    });
    expect(fetchCounts.get('good')).toBe(before + 1);
    await waitFor(() => catalogChanged.some((e) => e.version === changed.version && e.server_ids.join() === good.server_id));

    // a deleted server leaves the catalog (ServersChanged drives it)
    await bus.call(DeleteServer, { server: 'broken' }, { timeoutMs: 2000 });
    await waitFor(async () => !(await bus.call(GetCatalog, {}, { timeoutMs: 5000 })).servers.some((s) => s.server_name === 'broken'), 2000);
  });

  it('seeds idempotently: a second replica starts cleanly, concurrent seeds insert once, API changes are kept', async () => {
    const replica = await startReplica();
    try {
      const { servers } = await bus.call(ListServers, {}, { timeoutMs: 2000 });
      expect(servers.filter((s) => s.server_name === 'seeded_one')).toHaveLength(1);

      const repo = app.get(ServerRepository);
      const seederOf = (config: Record<string, McpServerSpec>) => new ServerSeeder(repo, bus, { seedServers: config }, app.get(UpstreamPolicy));
      const config = { ...seedServers, late: McpServerSpec.parse({ url: 'https://late.example/mcp' }) };
      const results = await Promise.all([seederOf(config).seed(), new ServerSeeder(replica.app.get(ServerRepository), replica.bus, { seedServers: config }, replica.app.get(UpstreamPolicy)).seed()]);
      expect(results.flatMap((r) => r.created)).toEqual(['late']);
      expect(await seederOf(config).seed()).toEqual({ created: [], updated: [] });

      // the config changes: a config row follows it, a row changed through the API does not
      await bus.call(UpdateServer, { server_id: 'late', description: 'edited by an admin' }, { timeoutMs: 2000 });
      const changedConfig = {
        seeded_one: McpServerSpec.parse({ ...seedServers.seeded_one, url: 'https://seeded.example/v2' }),
        late: McpServerSpec.parse({ url: 'https://late.example/v2' }),
      };
      expect(await seederOf(changedConfig).seed()).toEqual({ created: [], updated: ['seeded_one'] });
      expect(await bus.call(GetServer, { server: 'seeded_one' }, { timeoutMs: 2000 })).toMatchObject({ url: 'https://seeded.example/v2', source: 'config' });
      expect(await bus.call(GetServer, { server: 'late' }, { timeoutMs: 2000 })).toMatchObject({ url: 'https://late.example/mcp', source: 'api' });
      expect((await bus.call(ResolveServer, { server_id: 'seeded_one' }, { timeoutMs: 2000 })).auth_value).toBe('seed-secret-value-1234');
    } finally {
      await replica.app.close();
      await replica.bus.close();
      await replica.dataSource.destroy();
      await replica.stores.close();
    }
  });
});
