#!/usr/bin/env node
// `npm run bench`: what the gateway costs, measured in one run against direct connections to the same upstreams,
// for the distributed suite and the one-process default side by side, printed against the targets.
//
//   node scripts/bench.mjs [--rounds 5] [--seconds 2] [--warmup 1] [--only start,latency,scale,llm,soak]
//                          [--sessions 10000] [--soak-sessions 5000] [--soak-calls 50000] [--json]
//   node scripts/bench.mjs --profile [--seconds 10]     CPU profiles of the gateway under load instead (see below)
//
// Upstreams: the minimal upstream (test/fixtures/minimal-upstream.ts: JSON answers, lists prepared once; a
// tools/call costs it well under 0.1 ms) as `mini` (2025 sessions only) and `mini26` (also 2026-07-28), and
// server-everything over Streamable HTTP as `ev` (an SDK server: 0.4-3 ms per call by itself).
//
// All gateways run at LOG_LEVEL=warn but one (a one-process gateway at the default, info: one access-log line per
// request), beside one without metrics and tracing and one with both on, for what each costs.
//
// Latency and throughput: a raw JSON-RPC HTTP client (node:http, keep-alive, closed loop) drives every side; direct
// and gateway rounds alternate so that machine noise hits all alike. Every latency is printed as a difference and
// every throughput as a ratio against the direct side of the same era measured in the same run: a 2025 session to
// `mini` directly vs a 2025 session through the gateway to `mini`; a 2026-07-28 request to `mini26` directly vs one
// through the gateway to `mini26` (which the connector then speaks 2026-07-28 to).
//
// The floor (test/fixtures/bare-relay.ts), in the same rounds as the gateways, in front of the minimal upstream and
// of server-everything: a bare Node HTTP proxy (the least the one-process default could cost) and a bare
// HTTP -> NATS -> HTTP relay in two processes on the distributed suite's NATS server (the least the distributed suite
// could cost); neither reads what it passes on. Printed after the targets: their added latency, throughput ratio and
// CPU per call, and what each target leaves for the gateway's own work.
//
// CPU per call: the CPU time (utime + stime, /proc/<pid>/stat) of every gateway process is read before and after
// each gateway round and summed per process over the rounds of that side: µs of CPU per call. The distributed suite
// runs on a NATS server and a Redis of the bench's own (so that their CPU time is the gateway's alone); its
// Postgres is the machine's (not on the call path).
//
// Scale (on both suites, servers added through the admin API): the cold aggregate list across 10 upstreams that
// each answer every request after 5 ms; the 2,000-tool aggregate list (20 upstreams x 100 tools) from the cache;
// 10,000 idle 2025 sessions: the edge's heap after a forced GC before and after (through the inspector: the suites
// run with --inspect=127.0.0.1:0), per session, and sessions opened per second.
//
// Soak (a distributed suite of its own, idle timeout 5 s): 5,000 sessions opened and abandoned (half declaring
// sampling: an upstream session each), 50,000 calls in one session; the edge's and the connector's heap after GC
// against the start, and the upstream sessions and stdio processes left once the idle timeout has passed.
//
// --profile: loads both suites (concurrency 16, a 2025 session phase and a 2026-07-28 phase against the minimal
// upstream) while V8's CPU profiler (the sampler behind `node --cpu-prof`, which NODE_OPTIONS does not allow on
// Node 20) samples the edge and the connector (and the one process) through the inspector over exactly the load
// window; writes the .cpuprofile files (flame graphs in Chrome DevTools or speedscope) and prints, per process and
// phase, the self time per package and the functions with the most self time, mapped to the TypeScript sources.
//
// It builds what is out of date first. Exit code 0 whatever the figures are.
import os from 'node:os';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { build, needsBuild } from './lib/build.mjs';
import { agent, getJson, medianRoundDifference, newSession, newSink, post, round, summarize } from './lib/bench-client.mjs';
import { CPU_TICK_US, CpuMeter, heapAfterGc, inspectorUrlOf, loadAverage, openInspector, redisUsedMemory, startPrivateBroker } from './lib/bench-procs.mjs';
import { reportProfile, summarizeProfile } from './lib/bench-profile.mjs';
import { measureBigList, measureColdList, measureSessions } from './lib/bench-scale.mjs';
import { runSoak } from './lib/bench-soak.mjs';
import { closeLlmBench, llmModelList, measureLlm, reportLlm, startProviderProcess } from './lib/llm-bench.mjs';
import { measureOneProcessStart } from './lib/startup-timing.mjs';
import { freePort, ROOT, spawnNode, startEverything, startSuite } from './lib/suite.mjs';

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const PROFILE = argv.includes('--profile');
const ROUNDS = Number(opt('rounds', 5));
const ROUND_MS = Number(opt('seconds', PROFILE ? 10 : 2)) * 1000;
const WARMUP_MS = Number(opt('warmup', 1)) * 1000;
const ONLY = new Set(String(opt('only', 'start,latency,scale,llm,soak')).split(','));
const SESSIONS = Number(opt('sessions', 10_000));
const SOAK_SESSIONS = Number(opt('soak-sessions', 5000));
const SOAK_CALLS = Number(opt('soak-calls', 50_000));
const SOAK_IDLE = '5s';
const SOAK_IDLE_MS = 5000;
const MASTER_KEY = 'sk-bench-master-key';
const PROFILE_INTERVAL_US = 250;

/** Issue 16's done-means. */
const TARGET = {
  addedP50Distributed: 0.5,
  addedP50OneProcess: 0.15,
  addedP99: 2.5,
  cpuDistributed: 250,
  cpuOneProcess: 150,
  ratioDistributed: 0.8,
  ratioOneProcess: 0.9,
  bigListP50: 3,
  coldList: 60,
  heapPerSession: 10 * 1024,
  sessionsPerSecond: 1000,
  soakHeapMb: 20,
};
/** Earlier targets, still printed. */
const OLD = { addedP50: 1.5, ratio: 0.5, keyCheck: 0.2, startNew: 5000, startExisting: 2000 };

const log = (msg) => process.stderr.write(`bench: ${msg}\n`);
const began = Date.now();
const loads = [];
const noteLoad = (phase) => loads.push({ phase, load: loadAverage() });

const stops = [];
let cleaned = false;
async function cleanUp() {
  if (cleaned) return;
  cleaned = true;
  for (const stop of stops.reverse()) await stop().catch((error) => log(`stopping: ${error.message}`));
  agent.destroy();
  closeLlmBench();
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    if (cleaned) process.exit(130);
    log('interrupted: stopping everything it started');
    await cleanUp();
    process.exit(130);
  });
}
/** Starts something and registers how to stop it (stopped in reverse order, or earlier by calling `stop`). */
async function started(promise) {
  const thing = await promise;
  let stopped = false;
  const stop = thing.stop.bind(thing);
  thing.stop = async () => {
    if (stopped) return;
    stopped = true;
    await stop();
  };
  stops.push(() => thing.stop());
  return thing;
}

/** The minimal upstream fixture in its own process; `urlOf` names a logical server (see the fixture). */
async function startMinimalUpstream() {
  const entry = join(ROOT, 'dist/test/fixtures/minimal-upstream.js');
  const port = await freePort();
  const proc = spawnNode('minimal-upstream', entry, [], { env: { ...process.env, PORT: String(port) } });
  await proc.waitForLine(/listening \d+/);
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    url: `${base}/mcp`,
    pid: proc.child.pid,
    stdioEntry: entry,
    urlOf({ name, tools, delay, eras }) {
      const search = new URLSearchParams();
      if (name) search.set('name', name);
      if (tools !== undefined) search.set('tools', String(tools));
      if (delay !== undefined) search.set('delay', String(delay));
      if (eras) search.set('eras', eras);
      return `${base}/mcp?${search}`;
    },
    stop: () => proc.stop(),
  };
}

/** The gateway config: server-everything, the minimal upstream twice (2025 only, both eras), the LLM provider. */
function gatewayConfig({ everything, upstream, tag, provider, extra = {} }) {
  return {
    ...(provider ? { model_list: llmModelList(provider.url) } : {}),
    mcp_servers: {
      ...(everything ? { ev: { url: everything.url, transport: 'http', spec_version: '2025-06-18' } } : {}),
      mini: { url: upstream.urlOf({ name: `${tag}-mini`, eras: 'legacy' }), transport: 'http' },
      mini26: { url: upstream.urlOf({ name: `${tag}-mini26`, eras: 'both' }), transport: 'http' },
      ...extra,
    },
  };
}

/** What the bench needs of a running gateway: URLs, headers, and its processes for CPU and heap. */
function gatewayOf(suite, name, { nats, redis } = {}) {
  const base = suite.edgeUrls[0];
  const headers = { 'x-litellm-api-key': `Bearer ${MASTER_KEY}` };
  const processes =
    suite.mode === 'one-process'
      ? [{ name: 'one-process', proc: suite.processes.get('one-process').at(-1) }]
      : ['edge', 'connector', 'registry', 'auth', 'llm-proxy'].map((service) => ({ name: service, proc: suite.processes.get(service)[0] }));
  const meterProcesses = processes.map(({ name: n, proc }) => ({ name: n, pid: proc.child.pid }));
  if (nats) meterProcesses.push({ name: 'nats-server', pid: nats.pid });
  if (redis) meterProcesses.push({ name: 'redis', pid: redis.pid });
  const edge = processes[0].proc;
  return {
    name,
    suite,
    base,
    mcpUrl: `${base}/mcp`,
    headers,
    adminHeaders: headers,
    processes,
    meter: new CpuMeter(meterProcesses),
    edgeHeap: () => heapAfterGc(inspectorUrlOf(edge)),
    redis,
  };
}

/** Calls `tool` until it answers (the catalog is fetched after start). */
async function untilServes(side) {
  const probe = await newSession(side).initialize();
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await probe.call(side.tool, 'ready?');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${side.label} never served ${side.tool}: ${error.message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * One phase: every side at `concurrency`, a warm-up each, then `ROUNDS` rounds per side in an order rotated (and
 * reversed every other cycle) so that no side always follows the same one.
 */
async function runPhase(title, concurrency, sides) {
  const names = Object.keys(sides);
  const sessions = {};
  for (const name of names) sessions[name] = await Promise.all(Array.from({ length: concurrency }, () => newSession(sides[name]).initialize()));
  const sinks = Object.fromEntries(names.map((name) => [name, newSink(sides[name].meter)]));
  log(`${title}, concurrency ${concurrency}: warm-up ${WARMUP_MS / 1000} s per side, then ${ROUNDS} alternating rounds of ${ROUND_MS / 1000} s per side (${names.join(', ')})`);
  for (const name of names) await round(sessions[name], sides[name].tool, WARMUP_MS, newSink(), log);
  for (let r = 0; r < ROUNDS; r++) {
    const shift = r % names.length;
    const rotated = [...names.slice(shift), ...names.slice(0, shift)];
    const order = Math.floor(r / names.length) % 2 === 0 ? rotated : rotated.reverse();
    for (const name of order) await round(sessions[name], sides[name].tool, ROUND_MS, sinks[name], log);
  }
  noteLoad(`${title} c${concurrency}`);
  const results = Object.fromEntries(names.map((name) => [name, { ...summarize(sinks[name]), label: sides[name].label, baseline: sides[name].baseline }]));
  return { title, concurrency, results, sinks };
}

// ---------------------------------------------------------------------------------------------------- measuring

async function main() {
  if (needsBuild(ROOT)) {
    log('building ...');
    const status = build(ROOT, { toStderr: true });
    if (status !== 0 && status !== 2) throw new Error('the build failed');
  }
  noteLoad('start');
  const upstream = await started(startMinimalUpstream());
  log(`minimal upstream on ${upstream.base}`);
  if (PROFILE) return profile(upstream);

  const out = { figures: {} };
  const everything = await started(startEverything('streamableHttp'));
  log(`server-everything (Streamable HTTP) on ${everything.url}`);
  const provider = await started(startProviderProcess());

  if (ONLY.has('start')) {
    const config = { model_list: llmModelList(provider.url), mcp_servers: { ev: { url: everything.url, transport: 'http', spec_version: '2025-06-18' } } };
    out.startTimes = await measureOneProcessStart({ config, masterKey: MASTER_KEY, tool: 'ev-echo' });
    log(`one-process default: first tools/list ${out.startTimes.newFolder} ms after spawn on a new data folder, ${out.startTimes.existingFolder} ms on the existing one`);
  }

  const needGateways = ['latency', 'scale', 'llm'].some((part) => ONLY.has(part));
  if (needGateways) {
    const nats = await started(startPrivateBroker('nats'));
    const redis = await started(startPrivateBroker('redis'));
    log(`private nats-server (${nats.url}) and redis-server (${redis.url}) for the distributed suite`);
    const inspect = { LOG_LEVEL: 'warn', NODE_OPTIONS: '--inspect=127.0.0.1:0' };
    const distributedSuite = await started(
      startSuite({ edges: 1, connectors: 1, masterKey: MASTER_KEY, env: inspect, config: gatewayConfig({ everything, upstream, tag: 'D', provider }), natsUrl: nats.url, redisUrl: redis.url }),
    );
    const oneProcessSuite = await started(startSuite({ mode: 'one-process', masterKey: MASTER_KEY, env: inspect, config: gatewayConfig({ everything, upstream, tag: 'O', provider }) }));
    const D = gatewayOf(distributedSuite, 'distributed', { nats, redis });
    const O = gatewayOf(oneProcessSuite, 'one-process');
    log(`gateways: distributed on ${D.base}, one-process on ${O.base}`);

    if (ONLY.has('latency')) out.latency = await measureLatency({ D, O, upstream, everything, nats });
    if (ONLY.has('scale')) {
      out.scale = {};
      for (const gateway of [D, O]) {
        const tag = gateway === D ? 'D' : 'O';
        const cold = await measureColdList({ gateway, upstream, tag, log });
        log(`${gateway.name}: cold list across 10 slow upstreams ${cold.fromFirstRequest.toFixed(1)} ms from their first request (${cold.fromChange.toFixed(1)} ms from the change)`);
        const big = await measureBigList({ gateway, upstream, tag, log });
        log(`${gateway.name}: ${big.legacy.tools}-tool list p50 ${big.legacy.p50.toFixed(2)} ms (2025 session), ${big.modern.p50.toFixed(2)} ms (2026-07-28)`);
        const sessions = await measureSessions({
          gateway,
          count: SESSIONS,
          heap: gateway.edgeHeap,
          storeBytes: gateway.redis ? () => redisUsedMemory(gateway.redis.port) : undefined,
          log,
        });
        log(`${gateway.name}: ${sessions.count} idle sessions, ${(sessions.heapPerSession / 1024).toFixed(2)} KB of edge heap each, ${sessions.perSecond.toFixed(0)} opened per second`);
        out.scale[gateway.name] = { cold, big, sessions };
        noteLoad(`scale ${gateway.name}`);
      }
    }
    if (ONLY.has('llm')) {
      out.llm = await measureLlm({
        providerUrl: provider.url,
        gateways: { distributed: { base: D.base, key: MASTER_KEY }, oneProcess: { base: O.base, key: MASTER_KEY } },
        rounds: Math.min(ROUNDS, 3),
        roundMs: ROUND_MS,
        warmupMs: WARMUP_MS,
        log,
      });
      noteLoad('llm');
    }
    // the soak runs alone
    for (const thing of [oneProcessSuite, distributedSuite, nats, redis]) await thing.stop();
  }

  if (ONLY.has('soak')) {
    const nats = await started(startPrivateBroker('nats'));
    const redis = await started(startPrivateBroker('redis'));
    const config = gatewayConfig({
      upstream,
      tag: 'S',
      extra: { ministdio: { transport: 'stdio', command: process.execPath, args: [upstream.stdioEntry, '--stdio'] } },
    });
    config.general_settings = { mcp_client_session_idle_timeout: SOAK_IDLE };
    const soakSuite = await started(
      startSuite({ edges: 1, connectors: 1, masterKey: MASTER_KEY, env: { LOG_LEVEL: 'warn', NODE_OPTIONS: '--inspect=127.0.0.1:0' }, config, natsUrl: nats.url, redisUrl: redis.url }),
    );
    const S = gatewayOf(soakSuite, 'soak');
    await untilServes({ url: S.mcpUrl, headers: S.headers, tool: 'mini-echo', label: 'soak' });
    await untilServes({ url: S.mcpUrl, headers: S.headers, tool: 'ministdio-echo', label: 'soak' });
    out.soak = await runSoak({ gateway: S, suite: soakSuite, upstream, upstreamName: 'S-mini', idleMs: SOAK_IDLE_MS, sessions: SOAK_SESSIONS, calls: SOAK_CALLS, log });
    noteLoad('soak');
    await soakSuite.stop();
  }
  return out;
}

/**
 * The floor, in its own processes (test/fixtures/bare-relay.ts) in front of one upstream (`target`, any URL on it):
 * a bare Node proxy (HTTP in, HTTP out) beside the one-process default, and a bare HTTP -> NATS -> HTTP relay (two
 * processes and the suite's NATS server) beside the distributed suite. They pass requests on without reading them:
 * what is left of a target after them is what the gateway's own work may cost. `via(url)` is an upstream URL
 * through the relay.
 */
async function startFloor(target, nats, tag) {
  const entry = join(ROOT, 'dist/test/fixtures/bare-relay.js');
  const origin = new URL(target).origin;
  const env = { ...process.env, TARGET: origin, NATS_URL: nats.url, SUBJECT: `bench.floor.${process.pid}.${tag}` };
  const spawnRole = async (role, ready) => {
    const proc = await started(Promise.resolve(spawnNode(`bare-${role}-${tag}`, entry, [role], { env })));
    const line = await proc.waitForLine(ready);
    return { pid: proc.child.pid, via: (url) => url.replace(origin, `http://127.0.0.1:${/listening (\d+)/.exec(line)?.[1]}`) };
  };
  const proxy = await spawnRole('proxy', /listening \d+/);
  const connector = await spawnRole('connector', /^ready$/);
  const edge = await spawnRole('edge', /listening \d+/);
  const side = (relay, meter, extra) => ({ headers: {}, tool: 'echo', ...extra, url: relay.via(extra.url), meter: new CpuMeter(meter) });
  return {
    distributed: (extra) =>
      side(edge, [{ name: 'bare-edge', pid: edge.pid }, { name: 'bare-connector', pid: connector.pid }, { name: 'nats-server', pid: nats.pid }], { label: 'floor: bare HTTP -> NATS -> HTTP relay', ...extra }),
    oneProcess: (extra) => side(proxy, [{ name: 'bare-proxy', pid: proxy.pid }], { label: 'floor: bare Node HTTP proxy', ...extra }),
  };
}

async function measureLatency({ D, O, upstream, everything, nats }) {
  const { quiet, observed, logged } = {
    quiet: await started(startSuite({ mode: 'one-process', masterKey: MASTER_KEY, env: { LOG_LEVEL: 'warn', SWITCHBOARD_METRICS: 'off', SWITCHBOARD_TRACING: 'off' }, config: gatewayConfig({ upstream, tag: 'Q' }) })),
    observed: await started(startSuite({ mode: 'one-process', masterKey: MASTER_KEY, env: { LOG_LEVEL: 'warn', SWITCHBOARD_METRICS: 'on', SWITCHBOARD_TRACING: 'on' }, config: gatewayConfig({ upstream, tag: 'B' }) })),
    // the default log level writes an access-log line per request (the other gateways run at warn)
    logged: await started(startSuite({ mode: 'one-process', masterKey: MASTER_KEY, env: { LOG_LEVEL: 'info' }, config: gatewayConfig({ upstream, tag: 'L' }) })),
  };
  const Q = gatewayOf(quiet, 'quiet');
  const B = gatewayOf(observed, 'observed');
  const L = gatewayOf(logged, 'logged');
  log('one-process gateways without metrics and tracing, with both (tracing on, no exporter), and at LOG_LEVEL=info, for their cost');

  // A virtual key that may use the bench servers, without rpm_limit or max_parallel_requests (no store round trip).
  const generated = await post(`${D.base}/key/generate`, { key_alias: 'bench', object_permission: { mcp_servers: ['ev', 'mini', 'mini26'] } }, D.headers);
  const virtualKey = generated.status === 200 ? JSON.parse(generated.text).key : undefined;
  if (!virtualKey) throw new Error(`POST /key/generate answered ${generated.status}: ${generated.text.slice(0, 300)}`);

  const gw = (g, tool, extra = {}) => ({ url: g.mcpUrl, headers: g.headers, tool, meter: g.meter, ...extra });
  // direct rounds meter the minimal upstream's own process: what answering one HTTP request costs on this machine
  const upstreamMeter = new CpuMeter([{ name: 'minimal-upstream', pid: upstream.pid }]);
  const direct25 = { url: upstream.urlOf({ name: 'direct', eras: 'legacy' }), headers: {}, tool: 'echo', label: 'direct, 2025 session', meter: upstreamMeter };
  const direct26 = { url: upstream.urlOf({ name: 'direct26', eras: 'both' }), headers: {}, tool: 'echo', modern: true, label: 'direct, 2026-07-28', meter: upstreamMeter };
  const floor = await startFloor(upstream.base, nats, 'mini');
  const evFloor = await startFloor(everything.url, nats, 'ev');
  const sides = {
    direct25,
    direct26,
    floorD: floor.distributed({ url: upstream.urlOf({ name: 'floorD', eras: 'legacy' }), baseline: 'direct25' }),
    floorO: floor.oneProcess({ url: upstream.urlOf({ name: 'floorO', eras: 'legacy' }), baseline: 'direct25' }),
    D25: gw(D, 'mini-echo', { baseline: 'direct25', label: 'distributed, 2025 session' }),
    D26: gw(D, 'mini26-echo', { modern: true, baseline: 'direct26', label: 'distributed, 2026-07-28' }),
    Dkey: gw(D, 'mini-echo', { headers: { 'x-litellm-api-key': `Bearer ${virtualKey}` }, baseline: 'direct25', label: 'distributed, 2025, virtual key' }),
    O25: gw(O, 'mini-echo', { baseline: 'direct25', label: 'one-process, 2025 session' }),
    O26: gw(O, 'mini26-echo', { modern: true, baseline: 'direct26', label: 'one-process, 2026-07-28' }),
    quiet: gw(Q, 'mini-echo', { baseline: 'direct25', label: 'one-process, metrics+tracing off' }),
    observed: gw(B, 'mini-echo', { baseline: 'direct25', label: 'one-process, metrics+tracing on' }),
    logged: gw(L, 'mini-echo', { baseline: 'direct25', label: 'one-process, LOG_LEVEL=info (default)' }),
  };
  const evSides = {
    direct: { url: everything.url, headers: {}, tool: 'echo', label: 'direct, 2025 session' },
    floorD: evFloor.distributed({ url: everything.url, baseline: 'direct' }),
    floorO: evFloor.oneProcess({ url: everything.url, baseline: 'direct' }),
    D: gw(D, 'ev-echo', { baseline: 'direct', label: 'distributed, 2025 session' }),
    O: gw(O, 'ev-echo', { baseline: 'direct', label: 'one-process, 2025 session' }),
  };
  for (const [name, side] of [...Object.entries(sides), ...Object.entries(evSides)]) if (side.baseline) await untilServes({ ...side, label: name });

  // what the gateways' processes use doing nothing (timers, health checks), for reading the CPU per call
  const idle = {};
  for (const g of [D, O]) {
    const before = g.meter.read();
    const from = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, 3000));
    const seconds = Number(process.hrtime.bigint() - from) / 1e9;
    const used = g.meter.empty();
    g.meter.add(used, before, g.meter.read());
    idle[g.name] = Object.fromEntries(Object.entries(used).map(([n, us]) => [n, us / seconds]));
  }
  const pick = (names) => Object.fromEntries(names.map((n) => [n, sides[n]]));
  const phases = [];
  phases.push(await runPhase('minimal upstream', 1, sides));
  phases.push(await runPhase('minimal upstream', 16, pick(['direct25', 'direct26', 'floorD', 'floorO', 'D25', 'D26', 'O25', 'O26'])));
  phases.push(await runPhase('server-everything', 16, evSides));
  phases.push(await runPhase('server-everything', 1, evSides));
  for (const thing of [quiet, observed, logged]) await thing.stop();
  const counted = (await getJson(`${upstream.base}/stats`)).servers;
  return { phases, idle, upstreamCalls: Object.fromEntries(Object.entries(counted).map(([name, s]) => [name, s.calls])) };
}

// ---------------------------------------------------------------------------------------------------- profiling

/**
 * Both suites loaded in phases, each process of interest (edge, connector, the one process) sampled by V8's CPU
 * profiler over exactly the load window; the profiles are written as .cpuprofile files (open them in Chrome
 * DevTools or speedscope for a flame graph) and summarized.
 */
async function profile(upstream) {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-profile-'));
  const nats = await started(startPrivateBroker('nats'));
  const redis = await started(startPrivateBroker('redis'));
  const env = { LOG_LEVEL: 'warn', NODE_OPTIONS: '--inspect=127.0.0.1:0' };
  const distributedSuite = await started(startSuite({ edges: 1, connectors: 1, masterKey: MASTER_KEY, env, config: gatewayConfig({ upstream, tag: 'D' }), natsUrl: nats.url, redisUrl: redis.url }));
  const oneProcessSuite = await started(startSuite({ mode: 'one-process', masterKey: MASTER_KEY, env, config: gatewayConfig({ upstream, tag: 'O' }) }));
  const D = gatewayOf(distributedSuite, 'distributed', { nats, redis });
  const O = gatewayOf(oneProcessSuite, 'one-process');
  const out = [''];
  out.push(`CPU profiles (V8's sampling profiler, every ${PROFILE_INTERVAL_US} µs, over the load window only), ${ROUND_MS / 1000} s at concurrency 16 per phase against the minimal upstream`);
  for (const g of [D, O]) {
    const targets = g.processes.filter((p) => ['edge', 'connector', 'one-process'].includes(p.name));
    for (const [era, side] of [
      ['2025 session', { url: g.mcpUrl, headers: g.headers, tool: 'mini-echo' }],
      ['2026-07-28', { url: g.mcpUrl, headers: g.headers, tool: 'mini26-echo', modern: true }],
    ]) {
      await untilServes({ ...side, label: g.name });
      const sessions = await Promise.all(Array.from({ length: 16 }, () => newSession(side).initialize()));
      await round(sessions, side.tool, 2000, newSink(), log); // warm-up, not profiled
      const inspectors = await Promise.all(targets.map((t) => openInspector(inspectorUrlOf(t.proc))));
      for (const inspector of inspectors) {
        await inspector.send('Profiler.enable');
        await inspector.send('Profiler.setSamplingInterval', { interval: PROFILE_INTERVAL_US });
        await inspector.send('Profiler.start');
      }
      const sink = newSink(g.meter);
      await round(sessions, side.tool, ROUND_MS, sink, log);
      const profiles = await Promise.all(inspectors.map((inspector) => inspector.send('Profiler.stop')));
      for (const inspector of inspectors) inspector.close();
      const summary = summarize(sink);
      log(`profiled: ${g.name}, ${era}: ${summary.calls} calls in ${ROUND_MS / 1000} s (${summary.cpuTotal.toFixed(0)} µs CPU per call)`);
      out.push(
        '',
        `== ${g.name}, ${era}: ${summary.calls} calls, ${summary.throughput.toFixed(0)} calls/s, ${summary.cpuTotal.toFixed(0)} µs CPU per call (${Object.entries(summary.cpu)
          .map(([n, us]) => `${n} ${us.toFixed(0)}`)
          .join(', ')}); load average ${loadAverage()}`,
      );
      targets.forEach((t, i) => {
        const file = join(dir, `${g.name}-${era.replace(/\W+/g, '-')}-${t.name}.cpuprofile`);
        writeFileSync(file, JSON.stringify(profiles[i].profile));
        out.push('', ...reportProfile(`${t.name} (${file})`, summarizeProfile(file, { root: ROOT, top: 25 })));
      });
    }
  }
  out.push('', `the profiles stay in ${dir}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return undefined;
}

// ---------------------------------------------------------------------------------------------------- reporting

const f = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');
const mark = (ok) => (ok ? 'met' : 'NOT MET');

function table(rows, leftColumns = 1) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((cell, i) => (i < leftColumns ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  '));
}

function phaseTable(phase) {
  const rows = [['side', 'p50 ms', 'p99 ms', 'calls/s', 'added p50 ms', 'added p99 ms', 'throughput ratio', 'CPU µs/call', 'errors']];
  for (const r of Object.values(phase.results)) {
    const base = r.baseline ? phase.results[r.baseline] : undefined;
    rows.push([
      r.label,
      f(r.p50),
      f(r.p99),
      f(r.throughput, 0),
      base ? f(r.p50 - base.p50) : '',
      base ? f(r.p99 - base.p99) : '',
      base ? f(r.throughput / base.throughput) : '',
      r.cpuTotal !== undefined ? f(r.cpuTotal, 0) : '',
      String(r.errors),
    ]);
  }
  return table(rows);
}

function cpuTable(phases) {
  const known = ['edge', 'connector', 'nats-server', 'registry', 'auth', 'llm-proxy', 'redis', 'one-process', 'minimal-upstream'];
  const names = [...known];
  for (const phase of phases) for (const r of Object.values(phase.results)) for (const name of Object.keys(r.cpu ?? {})) if (!names.includes(name)) names.push(name);
  const rows = [['side', 'concurrency', 'total', ...names]];
  for (const phase of phases) {
    for (const r of Object.values(phase.results)) {
      if (!r.cpu) continue;
      rows.push([r.label, String(phase.concurrency), f(r.cpuTotal, 0), ...names.map((name) => (r.cpu[name] !== undefined ? f(r.cpu[name], 0) : ''))]);
    }
  }
  return table(rows);
}

function report(out) {
  const lines = [];
  const push = (...l) => lines.push(...l);
  push('', `Switchboard bench: node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ${ROUNDS} rounds x ${ROUND_MS / 1000} s per side after ${WARMUP_MS / 1000} s warm-up`);
  push(`load average (1, 5, 15 min) at each step: ${loads.map((l) => `${l.phase}: ${l.load}`).join('; ')}`);
  const targets = [];
  const target = (what, figure, ok) => targets.push(`  [${mark(ok)}] ${what}: ${figure}`);
  const floors = [];

  const latency = out.latency;
  if (latency) {
    for (const phase of latency.phases) {
      push('', `tools/call of echo, ${phase.title}, concurrency ${phase.concurrency} (added = gateway - direct of the same era, same run; CPU = all gateway processes, on direct rows the minimal upstream's own):`, '');
      push(...phaseTable(phase));
    }
    push('', 'CPU per tools/call by process, µs (utime + stime from /proc over each side\'s rounds; the distributed suite has a NATS server and a Redis of its own; direct rows: the minimal upstream, a Node HTTP server answering prepared JSON):', '');
    push(...cpuTable(latency.phases.filter((p) => p.title === 'minimal upstream')));
    push(
      `idle CPU before the rounds (3 s without load, ms per second, in ${f(CPU_TICK_US / 1000, 0)} ms ticks: about ±${f(CPU_TICK_US / 3000, 1)} ms/s): ${Object.entries(latency.idle)
        .map(([g, used]) => `${g} ${f(Object.values(used).reduce((a, b) => a + b, 0) / 1000, 1)} (${Object.entries(used).filter(([, us]) => us > 0).map(([n, us]) => `${n} ${f(us / 1000, 1)}`).join(', ') || 'none'})`)
        .join('; ')}`,
    );
    push('', `the minimal upstream counted these tools/calls per logical server: ${Object.entries(latency.upstreamCalls).map(([n, c]) => `${n} ${c}`).join(', ')}`);

    const phase = (title, c) => latency.phases.find((p) => p.title === title && p.concurrency === c)?.results;
    const m1 = phase('minimal upstream', 1);
    const m16 = phase('minimal upstream', 16);
    const e16 = phase('server-everything', 16);
    const e1 = phase('server-everything', 1);
    if (m1) {
      for (const [side, limit, base] of [['D25', TARGET.addedP50Distributed, 'direct25'], ['D26', TARGET.addedP50Distributed, 'direct26'], ['O25', TARGET.addedP50OneProcess, 'direct25'], ['O26', TARGET.addedP50OneProcess, 'direct26']]) {
        const added = m1[side].p50 - m1[base].p50;
        target(`1. minimal upstream, c1, ${m1[side].label}: added p50 <= ${limit} ms`, `${f(added)} ms`, added <= limit);
      }
      for (const side of ['D25', 'D26', 'O25', 'O26']) {
        const added = m1[side].p99 - m1[m1[side].baseline].p99;
        target(`1. minimal upstream, c1, ${m1[side].label}: added p99 <= ${TARGET.addedP99} ms`, `${f(added)} ms`, added <= TARGET.addedP99);
      }
    }
    for (const [results, c] of [[m16, 16], [m1, 1]]) {
      if (!results) continue;
      for (const [side, limit] of [['D25', TARGET.cpuDistributed], ['D26', TARGET.cpuDistributed], ['O25', TARGET.cpuOneProcess], ['O26', TARGET.cpuOneProcess]]) {
        target(`2. gateway CPU per tools/call, c${c}, ${results[side].label}: <= ${limit} µs`, `${f(results[side].cpuTotal, 0)} µs`, results[side].cpuTotal <= limit);
      }
    }
    // what a relay that does nothing costs in the same run, and so what each target leaves for the gateway's work
    const floorLine = (results, title, side, leaves) => {
      const r = results?.[side];
      if (!r) return;
      const base = results[r.baseline];
      const added = r.p50 - base.p50;
      const ratio = r.throughput / base.throughput;
      floors.push(`  ${title}, ${r.label}: added p50 ${f(added)} ms, added p99 ${f(r.p99 - base.p99)} ms, throughput ratio ${f(ratio)}, CPU ${f(r.cpuTotal, 0)} µs per call; ${leaves({ added, ratio, cpu: r.cpuTotal })}`);
    };
    const leftOf = (limit, used, unit, digits) => `leaves ${f(limit - used, digits)} of the ${limit} ${unit} target`;
    for (const [side, limit] of [['floorD', TARGET.addedP50Distributed], ['floorO', TARGET.addedP50OneProcess]]) floorLine(m1, 'minimal upstream, c1', side, ({ added }) => leftOf(limit, added, 'ms', 2));
    for (const [side, limit] of [['floorD', TARGET.cpuDistributed], ['floorO', TARGET.cpuOneProcess]]) floorLine(m16, 'minimal upstream, c16', side, ({ cpu }) => leftOf(limit, cpu, 'µs', 0));
    for (const [side, limit] of [['floorD', TARGET.ratioDistributed], ['floorO', TARGET.ratioOneProcess]]) floorLine(e16, 'server-everything, c16', side, () => `the target is ${limit}`);
    if (e16) {
      for (const [side, limit] of [['D', TARGET.ratioDistributed], ['O', TARGET.ratioOneProcess]]) {
        const ratio = e16[side].throughput / e16.direct.throughput;
        target(`3. server-everything, c16, ${e16[side].label}: throughput >= ${limit} of direct`, f(ratio), ratio >= limit);
      }
    }
    // earlier targets, measured in the same run
    if (e1) {
      const added = e1.D.p50 - e1.direct.p50;
      target(`(earlier) server-everything, c1, distributed: added p50 <= ${OLD.addedP50} ms`, `${f(added)} ms`, added <= OLD.addedP50);
    }
    if (e16) {
      const ratio = e16.D.throughput / e16.direct.throughput;
      target(`(earlier) server-everything, c16, distributed: throughput ratio >= ${OLD.ratio}`, f(ratio), ratio >= OLD.ratio);
    }
    if (m1) {
      const difference = m1.Dkey.p50 - m1.D25.p50;
      target(`(earlier) a virtual key adds <= ${OLD.keyCheck} ms to the distributed added p50 (no extra bus hop)`, `${f(difference)} ms`, difference <= OLD.keyCheck);
      const quietAdded = medianRoundDifference(latency.phases[0].sinks.quiet, latency.phases[0].sinks.direct25);
      const observedAdded = medianRoundDifference(latency.phases[0].sinks.observed, latency.phases[0].sinks.direct25);
      const change = observedAdded - quietAdded;
      target(
        `(earlier) metrics + tracing change the one-process added p50 by <= max(0.1 ms, 10 %) (median of per-round differences)`,
        `${f(quietAdded)} ms without, ${f(observedAdded)} ms with, change ${f(change)} ms; CPU ${f(m1.quiet.cpuTotal, 0)} vs ${f(m1.observed.cpuTotal, 0)} µs/call`,
        change <= Math.max(0.1, 0.1 * quietAdded),
      );
    }
  }
  if (out.startTimes) {
    target(`(earlier) one-process start to first tools/list, new data folder <= ${OLD.startNew} ms`, `${out.startTimes.newFolder} ms`, out.startTimes.newFolder <= OLD.startNew);
    target(`(earlier) the same, existing data folder <= ${OLD.startExisting} ms`, `${out.startTimes.existingFolder} ms`, out.startTimes.existingFolder <= OLD.startExisting);
  }

  if (out.scale) {
    push('', 'scale (servers of the minimal upstream added through the admin API; lists timed to their last byte at the client):', '');
    const rows = [['', ...Object.keys(out.scale)]];
    const each = (label, fn) => rows.push([label, ...Object.values(out.scale).map(fn)]);
    each('cold list: 10 upstreams, each request answered after 5 ms: first upstream request -> full list at the client, median ms', (s) => f(s.cold.fromFirstRequest, 1));
    each('  the same, each of the changes, ms', (s) => s.cold.changes.map((c) => f(c.fromFirstRequest, 1)).join(' / '));
    each('  from sending the 10 changes (admin API, all at once) -> full list, median ms', (s) => f(s.cold.fromChange, 1));
    each('  upstream requests per change (10 servers)', (s) => String(s.cold.changes[0]?.upstreamRequests ?? '-'));
    const spans = (s) => s.cold.changes.flatMap((c) => c.servers.filter(Boolean).map(([first, last]) => last - first)).sort((a, b) => a - b);
    each('  one server\'s fetch, its first request -> its last answer, median / max ms (the upstream delays: about 25)', (s) => {
      const all = spans(s);
      return `${f(all[Math.floor((all.length - 1) / 2)], 0)} / ${f(all.at(-1), 0)}`;
    });
    each('  from sending the changes -> the first upstream request, median ms', (s) => {
      const all = s.cold.changes.map((c) => Math.min(...c.servers.filter(Boolean).map(([first]) => first))).sort((a, b) => a - b);
      return f(all[Math.floor((all.length - 1) / 2)], 0);
    });
    each('  when first added: from the first POST -> full list, ms', (s) => f(s.cold.added.fromChange, 1));
    each('aggregate tools/list from the cache: tools in the list', (s) => String(s.big.legacy.tools));
    each('  p50 / p99 ms, 2025 session', (s) => `${f(s.big.legacy.p50)} / ${f(s.big.legacy.p99)}`);
    each('  p50 / p99 ms, 2026-07-28', (s) => `${f(s.big.modern.p50)} / ${f(s.big.modern.p99)}`);
    each('  size of the answer, KB', (s) => f(s.big.legacy.bytes / 1024, 0));
    each(`idle 2025 sessions opened (initialize + notifications/initialized), 32 at a time`, (s) => `${s.sessions.count} (${s.sessions.failed} failed)`);
    each('  sessions opened per second', (s) => f(s.sessions.perSecond, 0));
    each('  edge heap after GC, before -> after, MB', (s) => `${f(s.sessions.heapBefore / 2 ** 20, 1)} -> ${f(s.sessions.heapAfter / 2 ** 20, 1)}`);
    each('  edge heap per idle session, KB (one-process: the whole process, sessions in its memory store)', (s) => f(s.sessions.heapPerSession / 1024, 2));
    each('  Redis used_memory per idle session, KB', (s) => (s.sessions.storePerSession !== undefined ? f(s.sessions.storePerSession / 1024, 2) : '-'));
    push(...table(rows));
    for (const [name, s] of Object.entries(out.scale)) {
      target(`4. ${name}: the ${s.big.legacy.tools}-tool aggregate tools/list p50 at the client <= ${TARGET.bigListP50} ms`, `${f(s.big.legacy.p50)} ms`, s.big.legacy.p50 <= TARGET.bigListP50);
      target(`4. ${name}: the cold list across 10 upstreams of 5 ms (first upstream request -> full list) <= ${TARGET.coldList} ms`, `${f(s.cold.fromFirstRequest, 1)} ms`, s.cold.fromFirstRequest <= TARGET.coldList);
      target(`5. ${name}: edge heap per idle session <= 10 KB`, `${f(s.sessions.heapPerSession / 1024, 2)} KB`, s.sessions.heapPerSession <= TARGET.heapPerSession);
      target(`5. ${name}: session creations per second >= ${TARGET.sessionsPerSecond}`, f(s.sessions.perSecond, 0), s.sessions.perSecond >= TARGET.sessionsPerSecond);
    }
  }

  if (out.soak) {
    const s = out.soak;
    const mb = (b) => f(b / 2 ** 20, 1);
    push('', `soak (distributed suite of its own, idle timeout ${s.idleMs / 1000} s; start = after a warm-up that made the pools and shared sessions):`, '');
    push(
      ...table([
        ['', 'figure'],
        ['sessions opened and abandoned (half declaring sampling; 1 in 50 also calling the stdio server)', `${s.sessions.count - s.sessions.failed} of ${s.sessions.count} in ${f(s.sessions.seconds, 1)} s (${s.sessions.sampling} with sampling, ${s.sessions.stdio} on stdio)`],
        ['calls in one session (8 at a time)', `${s.calls.calls - s.calls.failed} of ${s.calls.calls} in ${f(s.calls.seconds, 1)} s (${f((s.calls.calls - s.calls.failed) / s.calls.seconds, 0)}/s)`],
        ['edge heap after GC: start -> end, MB', `${mb(s.baseline.heap.edge)} -> ${mb(s.end.heap.edge)} (${mb(s.end.heap.edge - s.baseline.heap.edge)})`],
        ['connector heap after GC: start -> end, MB', `${mb(s.baseline.heap.connector)} -> ${mb(s.end.heap.connector)} (${mb(s.end.heap.connector - s.baseline.heap.connector)})`],
        ['upstream sessions opened at the minimal upstream during the soak', String(s.peak.upstreamOpened)],
        ['upstream sessions open at the minimal upstream: start / most at once / end', `${s.baseline.upstreamSessions} / ${s.peak.upstreamSessions} / ${s.end.upstreamSessions}`],
        ['stdio processes under the connector: start / most at once / end', `${s.baseline.stdioProcesses} / ${s.peak.stdioProcesses} / ${s.end.stdioProcesses}`],
        ['end measured after the last call, s', f(s.end.afterIdleMs / 1000, 1)],
      ]),
    );
    for (const which of ['edge', 'connector']) {
      const grew = (s.end.heap[which] - s.baseline.heap[which]) / 2 ** 20;
      target(`6. soak: ${which} heap after GC within ${TARGET.soakHeapMb} MB of the start`, `${f(grew, 1)} MB`, Math.abs(grew) <= TARGET.soakHeapMb);
    }
    target(
      '6. soak: no upstream session or stdio process left for the abandoned sessions (end vs start)',
      `${s.end.upstreamSessions - s.baseline.upstreamSessions} upstream sessions, ${s.end.stdioProcesses - s.baseline.stdioProcesses} stdio processes`,
      s.end.upstreamSessions <= s.baseline.upstreamSessions && s.end.stdioProcesses <= s.baseline.stdioProcesses,
    );
  }
  if (out.llm) {
    push('');
    for (const line of reportLlm(out.llm)) {
      const target = /^target: (.*): (\S+ ms)\s+(PASS|FAIL)$/.exec(line);
      if (target) targets.push(`  [${mark(target[3] === 'PASS')}] (earlier) ${target[1]}: ${target[2]}`);
      else if (line || lines.at(-1)) push(line);
    }
  }
  while (lines.at(-1) === '') lines.pop();
  push('', 'targets (issue 16\'s done-means; "(earlier)" ones from before it):', ...targets);
  if (floors.length) push('', 'the floor: relays that pass each request on unread (test/fixtures/bare-relay.ts), in the same rounds as the gateways:', ...floors);
  push('', '7. none of these is a timed unit test: `npm test` runs none of this bench.');
  push('', `bench took ${f((Date.now() - began) / 60_000, 1)} min; load average now ${loadAverage()}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (argv.includes('--json')) {
    const json = { ...out, latency: out.latency && { ...out.latency, phases: out.latency.phases.map(({ sinks, ...rest }) => rest) } };
    process.stdout.write(`${JSON.stringify(json)}\n`);
  }
}

try {
  const out = await main();
  if (out) report(out);
} catch (error) {
  process.stdout.write(`\nbench: could not measure: ${error.stack ?? error.message}\n`);
} finally {
  await cleanUp();
}
process.exit(0);
