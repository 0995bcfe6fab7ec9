import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultFigures, Load, printFigures, type FaultFigures } from './support/load.js';
import { FULL, printLogsOnFailure, startGateway, until, type Gateway } from './support/gateway.js';

// Issue 15, broker and database faults: under the same load as the replica faults, NATS, Redis and Postgres (the
// suite's own, on free ports) are stopped and started again in turn. Recovery must need no manual step; caches
// must be rebuilt after the reconnect (events flow again, the catalog and the sessions are back in Redis); with
// Postgres down, keys verified before keep working from the edges' cache; with Redis down, sessions and rate
// limits keep working (docs/architecture.md, "The edge with Redis down").

let gateway: Gateway | undefined;
let limitedKey = '';
let load: Load | undefined;
const figures: FaultFigures[] = [];
/** How long each broker stays down: long enough for the load to meet the outage. */
const OUTAGE_MS = 2_000;

printLogsOnFailure(() => gateway);

const headers = (key: string) => ({ 'x-litellm-api-key': `Bearer ${key}`, 'content-type': 'application/json' });

async function toolNames(edge: string, key: string): Promise<string[]> {
  const reply = await fetch(`${edge}/mcp-rest/tools/list`, { headers: headers(key) });
  if (!reply.ok) return [];
  const body = (await reply.json()) as { tools?: { name: string }[] };
  return (body.tools ?? []).map((t) => t.name);
}

beforeAll(async () => {
  gateway = await startGateway();
  const g = gateway;
  for (const edge of g.suite.edgeUrls) await until('the catalog lists res-work on every edge', async () => (await toolNames(edge, g.key)).includes('res-work'), 60_000);
  load = new Load({
    edges: () => g.liveEdges(),
    key: g.key,
    server: 'res',
    clients: FULL ? { session: 6, sampling: 3, modern: 6, 'modern-sampling': 3, reader: 3 } : { session: 3, sampling: 2, modern: 3, 'modern-sampling': 2, reader: 2 },
    pauseMs: FULL ? 10 : 40,
    sampleDelayMs: 150,
    askEvery: 3,
    workMs: [0, 60],
  });
  await load.start();
  await until('the load runs', () => load!.records.filter((r) => r.ok).length > 50, 60_000);
  // a key with rpm_limit 3, verified on the first edge (cached there) before any outage
  const reply = await fetch(`${g.suite.edgeUrls[0]}/key/generate`, {
    method: 'POST',
    headers: headers(g.suite.masterKey),
    body: JSON.stringify({ key_alias: 'limited', rpm_limit: 3, object_permission: { mcp_servers: ['res'] } }),
  });
  limitedKey = ((await reply.json()) as { key: string }).key;
  expect((await toolNames(g.liveEdges()[0]!, limitedKey)).includes('res-work')).toBe(true);
}, 180_000);

afterAll(async () => {
  await load?.stop();
  await gateway?.stop();
}, 60_000);

/** Adds a server through the admin API (which answers once the services have reconnected: polled, not assumed). */
async function addServer(name: string): Promise<void> {
  const g = gateway!;
  await until(`POST /v1/mcp/server ${name}`, async () => {
    const reply = await fetch(`${g.liveEdges()[0]}/v1/mcp/server`, {
      method: 'POST',
      headers: headers(g.suite.masterKey),
      body: JSON.stringify({ server_name: name, url: g.upstream.url, transport: 'http', allow_all_keys: true }),
    });
    await reply.text();
    return reply.status === 200 || reply.status === 409;
  }, 15_000, 200);
}

/** Polls every live edge's readiness until it answers `status` with 200, the `degraded` checks including `named`. */
async function readinessIs(status: 'healthy' | 'degraded', named: string[] = []): Promise<void> {
  for (const edge of gateway!.liveEdges()) {
    await until(`${edge} readiness ${status} ${named.join(', ')}`, async () => {
      const reply = await fetch(`${edge}/health/readiness`);
      const body = (await reply.json()) as { status: string; degraded: string[] };
      return reply.status === 200 && body.status === status && named.every((n) => body.degraded.includes(n));
    }, 15_000, 200);
  }
}

function loadPast(t: number, ms: number): Promise<unknown> {
  return until(`calls started ${ms} ms after ${t}`, () => load!.records.some((r) => r.start >= t + ms), ms + 30_000, 50);
}

/** Stops a broker under load, keeps it down for OUTAGE_MS of load, starts it again and measures. */
async function outage(name: 'nats' | 'redis' | 'postgres', whileDown?: () => Promise<void>): Promise<FaultFigures> {
  const g = gateway!;
  const broker = g.brokers[name];
  await loadPast(Date.now(), 5_000);
  const at = Date.now();
  await broker.stop();
  await whileDown?.();
  await loadPast(at, OUTAGE_MS);
  await broker.start();
  const backAt = Date.now();
  await loadPast(backAt, 5_000);
  await load!.settled(at - 5_000, backAt + 5_000);
  const row = faultFigures(`${name} down ${backAt - at} ms`, load!.records, at, backAt, (id) => g.upstream.runs(id));
  figures.push(row);
  printFigures(`broker fault: ${name}`, [row]);
  return row;
}

describe('brokers and the database stopped and started again, under load', () => {
  it('NATS: everything reconnects by itself, and events flow again (a server added reaches every edge)', async () => {
    const g = gateway!;
    const row = await outage('nats');
    expect(row.executedTwice).toBe(0);
    expect(row.recoveryMs).toBeGreaterThanOrEqual(0);
    expect(row.recoveryMs).toBeLessThanOrEqual(10_000);
    // subscriptions are back: a change made now reaches both edges (ServersChanged -> catalog -> CatalogChanged)
    await addServer('after_nats');
    for (const edge of g.liveEdges()) await until(`${edge} lists after_nats-work`, async () => (await toolNames(edge, g.key)).includes('after_nats-work'), 10_000);
  });

  it('Redis: sessions and rate limits keep working while it is down, readiness says degraded; sessions and the catalog are back in it after its restart', async () => {
    const g = gateway!;
    const redis = new Redis(g.brokers.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    redis.on('error', () => undefined);
    try {
      let newSession: { status: number; session?: string | null } | undefined;
      let limited: number[] = [];
      const row = await outage('redis', async () => {
        // a new session while Redis is down, answered by an edge, and used on that edge
        const edge = g.liveEdges()[0]!;
        const init = await fetch(`${edge}/mcp`, {
          method: 'POST',
          headers: { ...headers(g.key), accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'outage', version: '1' } } }),
        });
        newSession = { status: init.status, session: init.headers.get('mcp-session-id') };
        await init.text();
        // a key with rpm_limit 3, verified before: counted in the edge's memory meanwhile, so its 4th request is refused
        const statuses: number[] = [];
        for (let i = 0; i < 5; i++) {
          const r = await fetch(`${edge}/mcp-rest/tools/list`, { headers: headers(limitedKey) });
          statuses.push(r.status);
          await r.text();
        }
        limited = statuses;
        // the edges serve through it: ready (200) and degraded, so that no load balancer takes them all out
        await readinessIs('degraded', ['store', 'registry.store']);
      });
      expect(row.executedTwice).toBe(0);
      expect(row.recoveryMs).toBeGreaterThanOrEqual(0);
      expect(row.recoveryMs).toBeLessThanOrEqual(2_000);
      // the existing sessions were served from the edges' memory: the outage cost (almost) nothing
      expect(row.failed / row.issued).toBeLessThan(0.01);
      expect(newSession?.status).toBe(200);
      expect(newSession?.session).toBeTruthy();
      expect(limited.slice(0, 3).every((s) => s === 200)).toBe(true);
      expect(limited.slice(3)).toEqual([429, 429]);
      // Redis came back empty: the edges wrote back the sessions they hold (the one made during the outage too)
      await redis.connect();
      const prefix = g.suite.redisPrefix!;
      await until('the sessions are in Redis again', async () => (await redis.keys(`${prefix}session:v1:*`)).length >= 5, 10_000);
      expect(await redis.exists(`${prefix}session:v1:${newSession!.session}`)).toBe(1);
      // the catalog cache is rebuilt: a change now is assembled into a catalog that is in Redis and on every edge
      await addServer('after_redis');
      for (const edge of g.liveEdges()) await until(`${edge} lists after_redis-work`, async () => (await toolNames(edge, g.key)).includes('after_redis-work'), 10_000);
      await until('the catalog is cached in Redis again', async () => (await redis.exists(`${prefix}catalog:v1`)) === 1, 10_000);
      await readinessIs('healthy');
    } finally {
      redis.disconnect();
    }
  });

  it('Postgres: calls go on while it is down (keys verified before work from the edges), readiness says degraded; recovery by itself', async () => {
    const row = await outage('postgres', () => readinessIs('degraded', ['auth.postgres', 'registry.postgres']));
    await readinessIs('healthy');
    expect(row.executedTwice).toBe(0);
    expect(row.failed / row.issued).toBeLessThan(0.01);
    expect(row.recoveryMs).toBeGreaterThanOrEqual(0);
    expect(row.recoveryMs).toBeLessThanOrEqual(2_000);
  });

  it('Postgres down and the bus reconnecting meanwhile: keys verified before keep working; admin writes fail cleanly and work again after', async () => {
    const g = gateway!;
    let adminWhileDown = 0;
    let natsBack = 0;
    const row = await outage('postgres', async () => {
      // the edges mark what events keep fresh as stale when the bus reconnects: keys are verified again, and auth
      // cannot reach the database. Keys verified before still work.
      await g.brokers.nats.restart();
      natsBack = Date.now();
      await loadPast(natsBack, 7_000);
      const write = await fetch(`${g.liveEdges()[0]}/key/generate`, { method: 'POST', headers: headers(g.suite.masterKey), body: JSON.stringify({ key_alias: 'while-postgres-down' }) });
      adminWhileDown = write.status;
      await write.text();
    });
    row.fault = `postgres down + nats restart`;
    expect(row.executedTwice).toBe(0);
    expect(row.recoveryMs).toBeGreaterThanOrEqual(0);
    expect(row.recoveryMs).toBeLessThanOrEqual(10_000);
    // once the bus is back (Postgres still down; calls in flight across the bus restart fail after 3.5 s of silence),
    // calls succeed: the keys and server definitions known before were not lost with the bus
    const afterBus = load!.records.filter((r) => r.start >= natsBack + 4_000 && r.start <= natsBack + 7_000);
    expect(afterBus.length).toBeGreaterThan(0);
    expect(afterBus.filter((r) => !r.ok)).toEqual([]);
    expect(adminWhileDown).toBe(503);
    // the refused write left nothing behind, and writes work again
    const client = new pg.Client({ connectionString: g.suite.databaseUrl });
    await client.connect();
    try {
      const { rowCount } = await client.query(`SELECT 1 FROM keys WHERE key_alias = 'while-postgres-down'`);
      expect(rowCount).toBe(0);
    } finally {
      await client.end();
    }
    await until('admin writes work again', async () => {
      const r = await fetch(`${g.liveEdges()[0]}/key/generate`, { method: 'POST', headers: headers(g.suite.masterKey), body: JSON.stringify({ key_alias: `after-postgres-${Date.now()}` }) });
      await r.text();
      return r.status === 200;
    }, 15_000);
  });

  it('leaves no session stuck, and prints the figures', async () => {
    const probes = await load!.probeEveryClient();
    expect(probes.filter((p) => !p.ok)).toEqual([]);
    await load!.stop();
    printFigures('broker and database faults (stopped, then started again, under load)', figures);
  }, 60_000);
});

