import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsBus } from '#libs/bus';
import { DomainError, UpstreamRequest } from '#libs/contracts';
import { ROOT } from '../../scripts/lib/suite.mjs';
import { startResilienceUpstream, type ResilienceUpstream } from '../fixtures/resilience-upstream.js';
import { printLogsOnFailure, startGateway, until, type Gateway } from './support/gateway.js';

// Issue 15, slow and hung upstreams: per-server timeouts hold; one slow server never delays another server's calls
// or the aggregate list; the connector's circuit breaker per upstream opens after repeated failures and half-opens;
// a stdio server that floods stdout or dies is contained (the connector stays responsive and bounded in memory, and
// the server comes back).
//
//   res    the resilience upstream (healthy)
//   slow   another one, `timeout: 1` (its hang tool never answers, its work tool answers when told)
//   flaky  a third, made to answer 503 for the circuit breaker
//   bad    the misbehaving stdio fixture (flood, noise, die)

const STDIO_FIXTURE = join(ROOT, 'dist/test/fixtures/stdio-misbehaving.js');

let gateway: Gateway | undefined;
let slow: ResilienceUpstream;
let flaky: ResilienceUpstream;
let bus: NatsBus | undefined;

printLogsOnFailure(() => gateway);

const headers = (key: string) => ({ 'x-litellm-api-key': `Bearer ${key}`, 'content-type': 'application/json' });

/** One tool call through the edge's REST face: the result (isError for upstream trouble) and how long it took. */
async function callTool(name: string, args: Record<string, unknown> = {}): Promise<{ ms: number; status: number; isError: boolean; text: string }> {
  const g = gateway!;
  const started = Date.now();
  const reply = await fetch(`${g.suite.edgeUrls[0]}/mcp-rest/tools/call`, { method: 'POST', headers: headers(g.suite.masterKey), body: JSON.stringify({ name, arguments: args }) });
  const body = (await reply.json().catch(() => ({}))) as { isError?: boolean; content?: { text?: string }[]; error?: { message?: string } };
  const text = body.content?.map((c) => c.text ?? '').join('') ?? body.error?.message ?? '';
  return { ms: Date.now() - started, status: reply.status, isError: reply.status !== 200 || body.isError === true, text };
}

/** The aggregate tool list as a 2025 session and as a 2026-07-28 request would get it (same prepared catalog). */
async function listTools(): Promise<{ ms: number; names: string[] }> {
  const g = gateway!;
  const started = Date.now();
  const reply = await fetch(`${g.suite.edgeUrls[0]}/mcp-rest/tools/list`, { headers: headers(g.suite.masterKey) });
  const body = (await reply.json()) as { tools?: { name: string }[] };
  return { ms: Date.now() - started, names: (body.tools ?? []).map((t) => t.name) };
}

/** A tools/call straight to a connector over the suite's bus (what the edge sends), bypassing the catalog. */
async function viaConnector(server: string, tool: string): Promise<{ ok: boolean; error?: DomainError; ms: number }> {
  const started = Date.now();
  try {
    await bus!.call(UpstreamRequest, { server_id: server, method: 'tools/call', params: { name: tool, arguments: { id: `${server}-${started}` } } }, { timeoutMs: 10_000 });
    return { ok: true, ms: Date.now() - started };
  } catch (error) {
    return { ok: false, error: error as DomainError, ms: Date.now() - started };
  }
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(/(\d+)/.exec(line)![1]) / 1024;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

beforeAll(async () => {
  [slow, flaky] = await Promise.all([startResilienceUpstream({ name: 'slow' }), startResilienceUpstream({ name: 'flaky' })]);
  gateway = await startGateway({
    replicas: 1,
    config: {
      mcp_servers: {
        slow: { url: slow.url, transport: 'http', timeout: 1 },
        flaky: { url: flaky.url, transport: 'http', timeout: 2 },
        bad: { transport: 'stdio', command: process.execPath, args: [STDIO_FIXTURE] },
      },
    },
  });
  await until('every server is in the catalog', async () => {
    const { names } = await listTools();
    return ['res-work', 'slow-hang', 'flaky-work', 'bad-echo'].every((n) => names.includes(n));
  }, 60_000);
  bus = await NatsBus.connect({ url: gateway.brokers.nats.url, namespace: gateway.suite.namespace!, name: 'resilience-test' });
}, 180_000);

afterAll(async () => {
  await bus?.close();
  await gateway?.stop();
  await Promise.all([slow?.close(), flaky?.close()]);
}, 60_000);

describe('slow and hung upstreams', () => {
  it("a server's timeout holds: a call it never answers fails after its timeout (1 s), not the gateway's", async () => {
    const call = await callTool('slow-hang', { id: 'timeout-1' });
    expect(call.isError).toBe(true);
    expect(call.text).toMatch(/did not answer within|timed out|timeout/i);
    expect(call.ms).toBeGreaterThanOrEqual(900);
    expect(call.ms).toBeLessThan(2_500);
    const slowWork = await callTool('slow-work', { id: 'timeout-2', ms: 5_000 });
    expect(slowWork.isError).toBe(true);
    expect(slowWork.ms).toBeLessThan(2_500);
  });

  it("one slow server never delays another's calls or the aggregate list", async () => {
    const baseline: number[] = [];
    for (let i = 0; i < 20; i++) baseline.push((await callTool('res-work', { id: `base-${i}` })).ms);
    // 20 calls held by the slow server until its deadline, the whole time the others are measured
    const hung = Array.from({ length: 20 }, (_, i) => callTool('slow-hang', { id: `held-${i}` }));
    const during: number[] = [];
    const lists: number[] = [];
    const stopAt = Date.now() + 900; // inside the slow server's deadline
    let n = 0;
    while (Date.now() < stopAt) {
      const [work, list] = await Promise.all([callTool('res-work', { id: `during-${n++}` }), listTools()]);
      expect(work.isError).toBe(false);
      during.push(work.ms);
      lists.push(list.ms);
      expect(list.names).toContain('res-work');
    }
    const held = await Promise.all(hung);
    expect(held.every((c) => c.isError)).toBe(true);
    process.stdout.write(
      `\nslow server: res-work p50/p95/max ${percentile(baseline, 50)}/${percentile(baseline, 95)}/${Math.max(...baseline)} ms alone, ` +
        `${percentile(during, 50)}/${percentile(during, 95)}/${Math.max(...during)} ms beside 20 hung calls (${during.length} calls); ` +
        `aggregate tools/list max ${Math.max(...lists)} ms\n`,
    );
    expect(during.length).toBeGreaterThan(3);
    // neither waits for the slow server: well inside its 1 s deadline
    expect(Math.max(...during)).toBeLessThan(500);
    expect(Math.max(...lists)).toBeLessThan(500);
  });
});

describe('the circuit breaker per upstream (in the connector)', () => {
  it('opens after 5 failures in a row, refuses at once without reaching the upstream, half-opens after 5 s and closes on a success', async () => {
    // the registry's own catalog fetches go through the same breaker: the counts below allow for them
    flaky.setMode({ down: true });
    try {
      let ours = 0;
      const refused = await until('the breaker opens', async () => {
        const r = await viaConnector('flaky', 'work');
        ours++;
        if (!r.ok && r.error?.code !== 'UPSTREAM_UNAVAILABLE') throw new Error(`unexpected ${r.error?.code}: ${r.error?.message}`);
        return r.error?.details?.circuit === 'open' ? r : undefined;
      }, 10_000, 0);
      const openedAt = Date.now();
      expect(ours).toBeLessThanOrEqual(6); // five failures open it; the sixth call is refused
      expect(refused!.error?.retryable).toBe(true);
      expect(refused!.error?.message).toMatch(/circuit open/);
      // while open: refused at once, without reaching the upstream
      const reached = flaky.stats().requests;
      for (let i = 0; i < 3; i++) {
        const r = await viaConnector('flaky', 'work');
        expect(r.error?.details?.circuit).toBe('open');
        expect(r.ms).toBeLessThan(200);
      }
      expect(flaky.stats().requests).toBe(reached);
      // the healthy server is not touched by the other's breaker
      expect((await viaConnector('res', 'work')).ok).toBe(true);
      // half-open after 5 s: one trial reaches the upstream (still down: it opens again, for longer)
      await until('a half-open trial', async () => (await viaConnector('flaky', 'work')).error?.details?.circuit === undefined, 30_000, 250);
      expect(Date.now() - openedAt).toBeGreaterThanOrEqual(4_500);
      expect(flaky.stats().requests).toBeGreaterThan(reached);
      expect((await viaConnector('flaky', 'work')).error?.details?.circuit).toBe('open');
      // the upstream recovers: a later trial succeeds and the breaker closes
      flaky.setMode({ down: false });
      await until('a successful trial', async () => (await viaConnector('flaky', 'work')).ok, 40_000, 250);
      for (let i = 0; i < 3; i++) expect((await viaConnector('flaky', 'work')).ok).toBe(true);
    } finally {
      flaky.setMode({ down: false });
    }
  }, 90_000);
});

describe('a stdio server that misbehaves is contained', () => {
  function connectorPid(): number {
    return gateway!.suite.processes.get('connector')![0]!.child.pid!;
  }

  async function backAgain(): Promise<void> {
    await until('the stdio server answers again', async () => {
      const r = await callTool('bad-echo', { text: 'again' });
      return !r.isError && r.text === 'again';
    }, 20_000, 250);
  }

  it('floods stdout without a newline: the process is killed, the connector stays responsive and bounded, the server comes back', async () => {
    await backAgain();
    const before = rssMiB(connectorPid());
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(connectorPid()))), 50);
    const others: number[] = [];
    try {
      const flood = callTool('bad-flood', { bytes: 256 * 1024 * 1024 });
      let done = false;
      void flood.finally(() => (done = true));
      while (!done) others.push((await callTool('res-work', { id: `beside-flood-${others.length}` })).ms);
      const result = await flood;
      expect(result.isError).toBe(true);
      expect(result.ms).toBeLessThan(10_000);
    } finally {
      clearInterval(sampler);
    }
    process.stdout.write(`\nstdio flood: connector RSS ${before.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB; res-work beside it max ${Math.max(...others)} ms over ${others.length} calls\n`);
    expect(peak - before).toBeLessThan(150);
    expect(Math.max(...others)).toBeLessThan(1_000);
    await backAgain();
  }, 60_000);

  it('writes lines that are not JSON: they are dropped, the call still answers', async () => {
    const noise = await callTool('bad-noise', { lines: 20_000 });
    expect(noise.isError).toBe(false);
    expect(noise.text).toBe('noise 20000');
  }, 30_000);

  it('dies mid-call: the call fails at once, other servers are untouched, it is started again', async () => {
    const death = await callTool('bad-die');
    expect(death.isError).toBe(true);
    expect(death.ms).toBeLessThan(3_000);
    expect((await callTool('res-work', { id: 'after-death' })).isError).toBe(false);
    await backAgain();
  }, 60_000);
});
