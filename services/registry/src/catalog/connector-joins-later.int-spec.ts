import { createServer, type AddressInfo } from 'node:net';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsBus, RpcHandler, startBusService } from '#libs/bus';
import { deleteRedisKeys, openStores, type Stores } from '#libs/cache';
import { BusEnv, GatewayConfig } from '#libs/config';
import { GetCatalog, McpServerSpec, pingContract, type Catalog } from '#libs/contracts';
import { JsonLogger } from '#libs/observability';
import { TEST_NATS_URL, TEST_REDIS_URL, openTestDatabase, testNamespace, uniqueId, waitFor, type TestDatabase } from '#libs/testing';
import { startCountingServer, type CountingServer } from '../../../../test/fixtures/counting-server.js';
import { ConnectorModule } from '../../../connector/src/connector.module.js';
import { EdgeEnv } from '../../../edge/src/config.js';
import { startEdge } from '../../../edge/src/edge-http.js';
import { openRegistryDatabase } from '../database.js';
import { RegistryModule } from '../registry.module.js';
import { CredentialCipher } from '../servers/credential-cipher.js';

// Issue 7: the registry started before any connector builds its catalog with every server left out; the edge's
// readiness must not say 200 until each server has been fetched once, and a connector that joins later must fill
// the catalog promptly (not on the next periodic pass, nor on some later registry change).

/** auth and llm-proxy are not under test here: they only answer the edge's readiness pings. */
@Controller()
class OtherServicesPing {
  @RpcHandler(pingContract('auth'))
  auth() {
    return { service: 'auth' as const, checks: { bus: true } };
  }

  @RpcHandler(pingContract('llm-proxy'))
  llmProxy() {
    return { service: 'llm-proxy' as const, checks: { bus: true } };
  }
}
@Module({ controllers: [OtherServicesPing] })
class OtherServicesModule {}

/** A port nothing listens on right now. */
function freeTcpPort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}

interface Readiness {
  status: number;
  body: { status: string; checks: Record<string, boolean>; services?: Record<string, Record<string, boolean>> };
}

describe('a connector that joins after the registry (real NATS, registry, connector and edge)', () => {
  const logger = new JsonLogger('catalog-start-test', 'error');
  const redisPrefix = `${uniqueId('sbtest_')}:`;
  const buses: NatsBus[] = [];
  const apps: { close(): Promise<void> }[] = [];
  let namespace: string;
  let database: TestDatabase;
  let dataSource: DataSource;
  let registryStores: Stores;
  let edgeStores: Stores;
  let upstream: CountingServer;
  let registryBus: NatsBus;
  let edgeUrl: string;
  let connector: INestMicroservice | undefined;

  const connect = async () => {
    const bus = await NatsBus.connect({ url: TEST_NATS_URL, namespace });
    buses.push(bus);
    return bus;
  };
  const readiness = async (): Promise<Readiness> => {
    const response = await fetch(`${edgeUrl}/health/readiness`);
    return { status: response.status, body: (await response.json()) as Readiness['body'] };
  };
  const catalog = (): Promise<Catalog> => registryBus.call(GetCatalog, {}, { timeoutMs: 5000 });
  const statusOf = (c: Catalog) => Object.fromEntries(c.servers.map((s) => [s.server_name, s.status]));

  beforeAll(async () => {
    namespace = testNamespace();
    upstream = await startCountingServer();
    // A port nothing listens on: that upstream refuses every connection (a failure of its own, not the gateway's).
    const refusedPort = await freeTcpPort();
    const seedServers: Record<string, McpServerSpec> = {
      counting: McpServerSpec.parse({ url: upstream.url, transport: 'http' }),
      refusing: McpServerSpec.parse({ url: `http://127.0.0.1:${refusedPort}/mcp`, transport: 'http' }),
    };

    database = await openTestDatabase('pglite');
    dataSource = await openRegistryDatabase(database.target);
    registryStores = openStores({ redisUrl: TEST_REDIS_URL, prefix: redisPrefix });
    registryBus = await connect();
    // The first retry of a server left out comes 7.5-10 s later at the earliest: only the connector's arrival can
    // fill the catalog within the few seconds this test allows.
    const registryOptions = { seedServers, maxFetchMs: 3000, retryInitialMs: 10_000, unhealthyRefreshMs: 60_000, healthyRefreshMs: 60_000 };
    apps.push(
      await startBusService({
        module: RegistryModule.register({ bus: registryBus, dataSource, stores: registryStores, cipher: new CredentialCipher('test-salt-key'), options: registryOptions }),
        bus: registryBus,
        queueGroup: 'registry',
        logger,
      }),
    );
    const othersBus = await connect();
    apps.push(await startBusService({ module: { module: OtherServicesModule }, bus: othersBus, queueGroup: 'auth', logger }));

    const edgeBus = await connect();
    edgeStores = openStores({ prefix: '' });
    const env = z.object({ ...BusEnv, ...EdgeEnv }).parse({ PORT: '0', HOST: '127.0.0.1' });
    const settings = { env, file: { config: GatewayConfig.parse({}), ignoredKeys: [] }, masterKey: 'sk-catalog-start-master' };
    const edge = await startEdge({ name: 'edge', settings: settings as never, infrastructure: { bus: edgeBus, stores: edgeStores }, logger, graceMs: 500 });
    apps.push(edge);
    edgeUrl = `http://127.0.0.1:${(edge.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const app of [connector, ...apps.reverse()]) await app?.close().catch(() => undefined);
    await Promise.all(buses.map((b) => b.close()));
    await dataSource?.destroy();
    await deleteRedisKeys(TEST_REDIS_URL, redisPrefix);
    await registryStores?.close();
    await edgeStores?.close();
    await database?.close();
    await upstream?.close();
  });

  it('is not ready while no connector answers, and is complete as soon as one starts', async () => {
    // The registry built its catalog with no connector: both servers left out, for want of a connector.
    const before = await waitFor(async () => {
      const c = await catalog();
      return c.servers.length === 2 && c.servers.every((s) => s.error?.includes('no service is answering')) ? c : undefined;
    }, 10_000);
    expect(statusOf(before)).toEqual({ counting: 'unhealthy', refusing: 'unhealthy' });
    const notReady = await readiness();
    expect(notReady.status).toBe(503);

    const connectorBus = await connect();
    const joined = Date.now();
    connector = await startBusService({ module: ConnectorModule.register({ bus: connectorBus }), bus: connectorBus, queueGroup: 'connector', logger });

    // From here on, whenever readiness says 200 the catalog holds every server's outcome.
    const ready = await waitFor(async () => {
      const reply = await readiness();
      if (reply.status !== 200) return undefined;
      return { reply, catalog: await catalog() };
    }, 5000);
    expect(statusOf(ready.catalog)).toEqual({ counting: 'healthy', refusing: 'unhealthy' });
    expect(ready.catalog.servers.find((s) => s.server_name === 'counting')!.tools.map((t) => t.name)).toContain('echo');
    // The refusing upstream failed on its own account (the connector reached for it), which does not hold readiness back.
    expect(ready.catalog.servers.find((s) => s.server_name === 'refusing')!.error).not.toContain('no service is answering');
    expect(ready.reply.body.services?.registry).toMatchObject({ catalog: true });
    expect(Date.now() - joined).toBeLessThan(5000);
    // Before the connector came, readiness was withheld for the catalog too, not only for the connector's missing ping.
    expect(notReady.body.checks.registry).toBe(false);
    expect(notReady.body.services?.registry).toMatchObject({ catalog: false });

    // The edge serves the full catalog too.
    await waitFor(async () => {
      const response = await fetch(`${edgeUrl}/mcp-rest/tools/list`, { headers: { authorization: 'Bearer sk-catalog-start-master' } });
      const { tools } = (await response.json()) as { tools: { name: string }[] };
      return tools.some((t) => t.name === 'counting-echo');
    }, 3000);
  });
});
