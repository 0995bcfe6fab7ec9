import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SILENCE_MS } from '../../libs/bus/src/liveness.js';
import { faultFigures, Load, printFigures, type FaultFigures } from './support/load.js';
import { FULL, printLogsOnFailure, SERVICES_IN_TURN, startGateway, until, type Gateway } from './support/gateway.js';

// Issue 15, replica faults: under a steady load of tool calls from clients of both protocol eras (2025 sessions,
// some with upstream sessions of their own and sampling requests pending; 2026-07-28 stateless requests, some
// answering input_required), one replica of each service is killed (kill -9) in turn, then replaced.
// Per fault: the calls of the 10 s window around it, those that failed, those the upstream ran twice, and how long
// until calls succeed again.

let gateway: Gateway | undefined;
let load: Load | undefined;
const figures: FaultFigures[] = [];

printLogsOnFailure(() => gateway);

beforeAll(async () => {
  gateway = await startGateway();
  const g = gateway;
  for (const edge of g.suite.edgeUrls) {
    await until('the catalog lists res-work on every edge', async () => {
      const reply = await fetch(`${edge}/mcp-rest/tools/list`, { headers: { 'x-litellm-api-key': `Bearer ${g.key}` } });
      return reply.ok && (await reply.text()).includes('res-work');
    }, 60_000);
  }
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
}, 180_000);

afterAll(async () => {
  await load?.stop();
  await gateway?.stop();
}, 60_000);

/** Waits until the load has started calls at least `ms` after `t` (a poll on what the load did, not a sleep). */
function loadPast(t: number, ms: number): Promise<unknown> {
  return until(`calls started ${ms} ms after the fault`, () => load!.records.some((r) => r.start >= t + ms), ms + 30_000, 50);
}

describe('kill -9 one replica of each service in turn, under load', () => {
  it('warms up: calls of every client kind succeed', async () => {
    await until('every kind of client succeeded at least 3 times', () => {
      const ok = new Map<string, number>();
      for (const r of load!.records) if (r.ok) ok.set(`${r.kind}/${r.tool}`, (ok.get(`${r.kind}/${r.tool}`) ?? 0) + 1);
      return ['session/work', 'sampling/work', 'sampling/ask', 'modern/work', 'modern-sampling/work', 'modern-sampling/ask', 'reader/greet'].every((k) => (ok.get(k) ?? 0) >= 3);
    }, 60_000);
  }, 90_000);

  for (const service of SERVICES_IN_TURN) {
    it(`kill -9 ${service}: under 1 % of calls fail, none runs twice, calls succeed again within 2 s`, async () => {
      const g = gateway!;
      const replicas = g.live(service);
      expect(replicas.length).toBeGreaterThanOrEqual(2);
      await loadPast(Date.now(), 5_000); // a full half window of calls before the fault
      const victim = replicas[0]!;
      const at = Date.now();
      await g.suite.killService!(service, victim);
      await loadPast(at, 5_000);
      // the replacement starts after the window, as an orchestrator's restart would
      await g.addReplica(service);
      await load!.settled(at - 5_000, at + 5_000);
      const row = faultFigures(`kill -9 ${service}#${victim}`, load!.records, at, at, (id) => g.upstream.runs(id));
      figures.push(row);
      printFigures(`replica fault: ${service}`, [row]);
      expect(row.issued).toBeGreaterThan(50);
      expect(row.executedTwice).toBe(0);
      expect(row.failed / row.issued).toBeLessThan(0.01);
      expect(row.recoveryMs).toBeGreaterThanOrEqual(0);
      expect(row.recoveryMs).toBeLessThanOrEqual(2_000);
      // a call in flight on the killed replica fails soon (bus liveness, a lost POST stream answered), never at its timeout
      expect(row.slowestFailureMs).toBeLessThan(SILENCE_MS + 2_500);
    }, 180_000);
  }

  it('a 2025 client whose POST stream dies with its edge, while its call waits for its sampling answer, is told at once', async () => {
    const g = gateway!;
    const [a, b] = g.live('edge');
    const edgeA = g.suite.edgeUrls[a!]!;
    const edgeB = g.suite.edgeUrls[b!]!;
    // tool calls go to edge A, everything else (initialize, the client's answer, the GET stream) to edge B
    const routed: typeof fetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const target = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      const call = typeof init?.body === 'string' && init.body.includes('"tools/call"');
      target.host = new URL(call ? edgeA : edgeB).host;
      return fetch(target, init);
    }) as typeof fetch;
    let asked!: () => void;
    const sampling = new Promise<void>((resolve) => (asked = resolve));
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const client = new Client({ name: 'resilience-lost-stream', version: '1.0.0' }, { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async () => {
      asked();
      await answered;
      return { model: 'resilience', role: 'assistant', content: { type: 'text', text: 'late' } };
    });
    client.onerror = () => undefined;
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${edgeB}/mcp`), {
        requestInit: { headers: { 'x-litellm-api-key': `Bearer ${g.key}` } },
        fetch: routed,
        reconnectionOptions: { initialReconnectionDelay: 50, maxReconnectionDelay: 500, reconnectionDelayGrowFactor: 1.5, maxRetries: 20 },
      }),
    );
    try {
      const id = `lost-stream-${Date.now()}`;
      const started = Date.now();
      const call = client.callTool({ name: 'res-ask', arguments: { id } }, undefined, { timeout: 30_000 }).then(
        (result) => ({ result, error: undefined as unknown }),
        (error: unknown) => ({ result: undefined, error }),
      );
      await sampling; // the sampling request came on edge A's POST stream
      await g.suite.killService!('edge', a!);
      answer();
      const outcome = await call;
      const elapsed = Date.now() - started;
      expect(outcome.result).toBeUndefined();
      expect((outcome.error as { code?: number }).code).toBe(-32603);
      expect(String((outcome.error as Error).message)).toMatch(/stream of this request was lost/);
      expect(elapsed).toBeLessThan(5_000);
      expect(g.upstream.runs(id)).toBeLessThanOrEqual(1);
    } finally {
      await client.close().catch(() => undefined);
      await g.addReplica('edge');
    }
  }, 120_000);

  it('leaves no session stuck: every client calls again successfully', async () => {
    const probes = await load!.probeEveryClient();
    expect(probes.filter((p) => !p.ok)).toEqual([]);
    await load!.stop();
    printFigures('replica faults (kill -9 under load)', figures);
    const stats = gateway!.upstream.stats();
    const toolsTwice = stats.duplicates.filter((id) => !id.startsWith('read:'));
    process.stdout.write(
      `upstream: ${stats.total} executions, ${toolsTwice.length} tool calls run twice, ${stats.duplicates.length - toolsTwice.length} reads sent again; ` +
        `load: ${load!.records.length} calls, ${load!.records.filter((r) => !r.ok).length} failed\n`,
    );
    expect(toolsTwice).toEqual([]);
  }, 60_000);
});
