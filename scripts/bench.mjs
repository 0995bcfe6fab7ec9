#!/usr/bin/env node
// `npm run bench`: what the gateway adds to a tools/call, measured in one run against a direct connection to
// the same upstream (server-everything's `echo` over Streamable HTTP), for the distributed suite and the
// one-process default side by side, and how long the one-process default takes to start. Then the LLM proxy: what
// it adds to a chat completion and to the time to first token of a streamed one, against the provider directly.
//
//   node scripts/bench.mjs [--rounds 5] [--seconds 2] [--warmup 1] [--concurrency 1,16] [--json]
//
// A raw JSON-RPC HTTP client (node:http, keep-alive) drives every side; each worker initializes its own MCP
// session once per side. Direct and gateway rounds alternate so that machine noise hits all alike.
// The gateway is measured twice: with the master key, and with a virtual key (generated through /key/generate,
// allowed the bench server by object_permission, no rate limits), whose verification and permission check the
// edge answers from its in-process cache: the key check must add no NATS hop, so the two added p50s stay close.
// It builds nothing: run `npm run build` first (or `npm start` once). Exit code 0 whatever the figures are.
import http from 'node:http';
import os from 'node:os';
import { build, needsBuild } from './lib/build.mjs';
import { closeLlmBench, llmModelList, measureLlm, reportLlm, startProviderProcess } from './lib/llm-bench.mjs';
import { measureOneProcessStart } from './lib/startup-timing.mjs';
import { ROOT, startEverything, startSuite } from './lib/suite.mjs';

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const ROUNDS = Number(opt('rounds', 5));
const ROUND_MS = Number(opt('seconds', 2)) * 1000;
const WARMUP_MS = Number(opt('warmup', 1)) * 1000;
const CONCURRENCY = String(opt('concurrency', '1,16')).split(',').map(Number);
const TARGET_ADDED_P50_MS = 1.5;
const TARGET_RATIO = 0.5;
/** The virtual key's added p50 may exceed the master key's by at most this much (same run, concurrency 1). */
const TARGET_KEY_CHECK_MS = 0.2;
/** The one-process default, from spawn to its first tools/list: on a new data folder, and on an existing one. */
const TARGET_START_NEW_MS = 5000;
const TARGET_START_EXISTING_MS = 2000;
const MASTER_KEY = 'sk-bench-master-key';
// Both sides speak the same revision to the upstream: the direct client and the gateway's connector (spec_version).
// server-everything answers 2025-11-25 sessions about 1.2 ms slower than 2025-06-18 ones (measured here), which
// would otherwise be counted as gateway overhead or hidden by it.
const PROTOCOL_VERSION = '2025-06-18';
/** The stateless revision the gateway serves beside the 2025 ones (measured against the same direct upstream). */
const MODERN_VERSION = '2026-07-28';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const log = (msg) => process.stderr.write(`bench: ${msg}\n`);

/** One HTTP POST with keep-alive; resolves with status, headers and the body text. */
function post(url, body, headers) {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body));
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': payload.length, ...headers },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The JSON-RPC reply in a JSON body or an SSE-framed one (server-everything answers with SSE). */
function replyOf(response, id) {
  const type = String(response.headers['content-type'] ?? '');
  if (type.includes('text/event-stream')) {
    for (const line of response.text.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const message = JSON.parse(line.slice(5));
      if (message.id === id) return message;
    }
    return undefined;
  }
  return response.text ? JSON.parse(response.text) : undefined;
}

class Session {
  constructor(url, headers) {
    this.url = new URL(url);
    this.headers = { ...headers };
    this.nextId = 1;
  }

  async initialize() {
    const id = this.nextId++;
    const response = await post(this.url, { jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }, this.headers);
    const reply = replyOf(response, id);
    if (response.status !== 200 || !reply?.result) throw new Error(`initialize on ${this.url} answered ${response.status}: ${response.text.slice(0, 300)}`);
    this.headers['mcp-session-id'] = response.headers['mcp-session-id'];
    this.headers['mcp-protocol-version'] = reply.result.protocolVersion;
    const notified = await post(this.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, this.headers);
    if (notified.status >= 300) throw new Error(`notifications/initialized answered ${notified.status}`);
  }

  /** One tools/call; returns its latency in ms, or throws when the answer is not the echo. */
  async call(tool, message) {
    const id = this.nextId++;
    const started = process.hrtime.bigint();
    const response = await post(this.url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: { message } } }, this.headers);
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
    const reply = replyOf(response, id);
    const text = reply?.result?.content?.[0]?.text;
    if (response.status !== 200 || text !== `Echo: ${message}`) throw new Error(`tools/call answered ${response.status}: ${response.text.slice(0, 300)}`);
    return elapsed;
  }
}

/**
 * A 2026-07-28 client: no session; every request carries its revision, capabilities and client info in `_meta`
 * and mirrors them in headers. `initialize` asks `server/discover` once (the revision must be offered).
 */
class ModernSession extends Session {
  meta() {
    return { 'io.modelcontextprotocol/protocolVersion': MODERN_VERSION, 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' } };
  }

  async initialize() {
    const id = this.nextId++;
    const headers = { ...this.headers, 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'server/discover' };
    const response = await post(this.url, { jsonrpc: '2.0', id, method: 'server/discover', params: { _meta: this.meta() } }, headers);
    const reply = replyOf(response, id);
    if (response.status !== 200 || !reply?.result?.supportedVersions?.includes(MODERN_VERSION)) {
      throw new Error(`server/discover on ${this.url} answered ${response.status}: ${response.text.slice(0, 300)}`);
    }
  }

  async call(tool, message) {
    const id = this.nextId++;
    const headers = { ...this.headers, 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'tools/call', 'mcp-name': tool };
    const started = process.hrtime.bigint();
    const response = await post(this.url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: { message }, _meta: this.meta() } }, headers);
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
    const reply = replyOf(response, id);
    const text = reply?.result?.content?.[0]?.text;
    if (response.status !== 200 || reply?.result?.resultType !== 'complete' || text !== `Echo: ${message}`) throw new Error(`tools/call answered ${response.status}: ${response.text.slice(0, 300)}`);
    return elapsed;
  }
}

/** Runs `sessions` concurrently for `ms`, collecting latencies. */
async function round(sessions, tool, ms, sink) {
  const before = sink.latencies.length;
  const end = Date.now() + ms;
  const started = process.hrtime.bigint();
  let errors = 0;
  await Promise.all(
    sessions.map(async (session, w) => {
      let i = 0;
      while (Date.now() < end) {
        try {
          sink.latencies.push(await session.call(tool, `w${w}-${i++}`));
        } catch (error) {
          errors++;
          if (errors <= 3) log(`error: ${error.message}`);
        }
      }
    }),
  );
  sink.seconds += Number(process.hrtime.bigint() - started) / 1e9;
  sink.errors += errors;
  sink.roundP50s?.push(percentile(Float64Array.from(sink.latencies.slice(before)).sort(), 50));
}

/** The median of per-round differences `side - baseline` (p50 of each round): robust to one noisy round. */
function medianRoundDifference(side, baseline) {
  const differences = side.roundP50s.map((p50, i) => p50 - baseline.roundP50s[i]).sort((a, b) => a - b);
  return differences[Math.floor((differences.length - 1) / 2)];
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function summarize(sink) {
  const sorted = Float64Array.from(sink.latencies).sort();
  return { calls: sorted.length, errors: sink.errors, p50: percentile(sorted, 50), p99: percentile(sorted, 99), throughput: sorted.length / sink.seconds };
}

const processes = [];
let suite;
let oneProcess;
/** The one-process default without metrics and tracing, and with both (tracing on, no exporter). */
let quiet;
let observed;
let startTimes;
let llmResults;
async function cleanUp() {
  await suite?.stop().catch((error) => log(`stopping the suite: ${error.message}`));
  await oneProcess?.stop().catch((error) => log(`stopping the one-process default: ${error.message}`));
  for (const extra of [quiet, observed]) await extra?.stop().catch((error) => log(`stopping a one-process gateway: ${error.message}`));
  await Promise.allSettled(processes.map((p) => p.stop()));
  agent.destroy();
  closeLlmBench();
}
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log('interrupted: stopping everything it started');
    await cleanUp();
    process.exit(130);
  });
}

async function main() {
  if (needsBuild(ROOT)) {
    log('building (tsc -p tsconfig.build.json) ...');
    const status = build(ROOT);
    if (status !== 0 && status !== 2) throw new Error('the build failed');
  }
  const upstream = await startEverything('streamableHttp');
  processes.push(upstream);
  log(`server-everything (Streamable HTTP) on ${upstream.url}`);
  const provider = await startProviderProcess();
  processes.push(provider);
  log(`OpenAI-compatible provider fixture on ${provider.url}`);
  const config = { model_list: llmModelList(provider.url), mcp_servers: { ev: { url: upstream.url, transport: 'http', spec_version: PROTOCOL_VERSION } } };
  startTimes = await measureOneProcessStart({ config, masterKey: MASTER_KEY, tool: 'ev-echo' });
  log(`one-process default: first tools/list ${startTimes.newFolder} ms after spawn on a new data folder, ${startTimes.existingFolder} ms on the existing one`);
  suite = await startSuite({ edges: 1, connectors: 1, masterKey: MASTER_KEY, env: { LOG_LEVEL: 'warn' }, config });
  const gatewayUrl = `${suite.edgeUrls[0]}/mcp`;
  log(`gateway (distributed suite) on ${gatewayUrl}`);
  oneProcess = await startSuite({ mode: 'one-process', masterKey: MASTER_KEY, env: { LOG_LEVEL: 'warn' }, config });
  const oneProcessUrl = `${oneProcess.edgeUrls[0]}/mcp`;
  log(`gateway (one-process default) on ${oneProcessUrl}`);
  quiet = await startSuite({ mode: 'one-process', masterKey: MASTER_KEY, env: { LOG_LEVEL: 'warn', SWITCHBOARD_METRICS: 'off', SWITCHBOARD_TRACING: 'off' }, config });
  observed = await startSuite({ mode: 'one-process', masterKey: MASTER_KEY, env: { LOG_LEVEL: 'warn', SWITCHBOARD_METRICS: 'on', SWITCHBOARD_TRACING: 'on' }, config });
  log('one-process gateways without metrics and tracing, and with both (tracing on, no exporter), for their cost');

  // A virtual key that may use the bench server, without rpm_limit or max_parallel_requests (no Redis round trip).
  const generated = await post(
    `${suite.edgeUrls[0]}/key/generate`,
    { key_alias: 'bench', object_permission: { mcp_servers: ['ev'] } },
    { 'x-litellm-api-key': `Bearer ${MASTER_KEY}` },
  );
  const virtualKey = generated.status === 200 ? JSON.parse(generated.text).key : undefined;
  if (!virtualKey) throw new Error(`POST /key/generate answered ${generated.status}: ${generated.text.slice(0, 300)}`);

  const sides = {
    direct: { url: upstream.url, headers: {}, tool: 'echo' },
    gateway: { url: gatewayUrl, headers: { 'x-litellm-api-key': `Bearer ${MASTER_KEY}` }, tool: 'ev-echo' },
    gatewayKey: { url: gatewayUrl, headers: { 'x-litellm-api-key': `Bearer ${virtualKey}` }, tool: 'ev-echo' },
    // the same gateway spoken to in 2026-07-28: no session, the upstream (2025-era) behind it unchanged
    gatewayModern: { url: gatewayUrl, headers: { 'x-litellm-api-key': `Bearer ${MASTER_KEY}` }, tool: 'ev-echo', modern: true },
    oneProcess: { url: oneProcessUrl, headers: { 'x-litellm-api-key': `Bearer ${MASTER_KEY}` }, tool: 'ev-echo' },
    quiet: { url: `${quiet.edgeUrls[0]}/mcp`, headers: { 'x-litellm-api-key': `Bearer ${MASTER_KEY}` }, tool: 'ev-echo' },
    observed: { url: `${observed.edgeUrls[0]}/mcp`, headers: { 'x-litellm-api-key': `Bearer ${MASTER_KEY}` }, tool: 'ev-echo' },
  };
  const SIDE_NAMES = Object.keys(sides);
  // The gateway lists the upstream's tools once its catalog is fetched.
  for (const side of [sides.gateway, sides.gatewayKey, sides.gatewayModern, sides.oneProcess, sides.quiet, sides.observed]) {
    const probe = side.modern ? new ModernSession(side.url, side.headers) : new Session(side.url, side.headers);
    await probe.initialize();
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await probe.call('ev-echo', 'ready?');
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`the gateway never served ev-echo: ${error.message}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  const results = [];
  for (const concurrency of CONCURRENCY) {
    const sessions = {};
    for (const [name, side] of Object.entries(sides)) {
      sessions[name] = await Promise.all(
        Array.from({ length: concurrency }, async () => {
          const session = side.modern ? new ModernSession(side.url, side.headers) : new Session(side.url, side.headers);
          await session.initialize();
          return session;
        }),
      );
    }
    const sinks = Object.fromEntries(SIDE_NAMES.map((name) => [name, { latencies: [], seconds: 0, errors: 0, roundP50s: [] }]));
    log(`concurrency ${concurrency}: warm-up ${WARMUP_MS / 1000} s per side, then ${ROUNDS} alternating rounds of ${ROUND_MS / 1000} s per side (${SIDE_NAMES.join(', ')})`);
    for (const name of SIDE_NAMES) await round(sessions[name], sides[name].tool, WARMUP_MS, { latencies: [], seconds: 0, errors: 0 });
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate which side goes first, and reverse every other cycle, so no side always follows the same one.
      const shift = r % SIDE_NAMES.length;
      const rotated = [...SIDE_NAMES.slice(shift), ...SIDE_NAMES.slice(0, shift)];
      const order = Math.floor(r / SIDE_NAMES.length) % 2 === 0 ? rotated : rotated.reverse();
      for (const name of order) await round(sessions[name], sides[name].tool, ROUND_MS, sinks[name]);
    }
    results.push({
      concurrency,
      direct: summarize(sinks.direct),
      gateway: summarize(sinks.gateway),
      gatewayKey: summarize(sinks.gatewayKey),
      gatewayModern: summarize(sinks.gatewayModern),
      oneProcess: summarize(sinks.oneProcess),
      quiet: summarize(sinks.quiet),
      observed: summarize(sinks.observed),
      observability: { quietAdded: medianRoundDifference(sinks.quiet, sinks.direct), observedAdded: medianRoundDifference(sinks.observed, sinks.direct), rounds: ROUNDS },
    });
  }
  llmResults = await measureLlm({
    providerUrl: provider.url,
    gateways: { distributed: { base: suite.edgeUrls[0], key: MASTER_KEY }, oneProcess: { base: oneProcess.edgeUrls[0], key: MASTER_KEY } },
    rounds: ROUNDS,
    roundMs: ROUND_MS,
    warmupMs: WARMUP_MS,
    log,
  });
  return results;
}

function report(results) {
  const f = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const rows = [['c', 'direct p50 ms', 'direct p99 ms', 'direct calls/s', 'gateway p50 ms', 'gateway p99 ms', 'gateway calls/s', 'added p50 ms', 'added p99 ms', 'throughput ratio', 'errors d/g']];
  for (const { concurrency, direct, gateway } of results) {
    rows.push([
      String(concurrency),
      f(direct.p50),
      f(direct.p99),
      f(direct.throughput, 0),
      f(gateway.p50),
      f(gateway.p99),
      f(gateway.throughput, 0),
      f(gateway.p50 - direct.p50),
      f(gateway.p99 - direct.p99),
      f(gateway.throughput / direct.throughput),
      `${direct.errors}/${gateway.errors}`,
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r) => r.map((cell, i) => cell.padStart(widths[i])).join('  ');
  const out = [];
  out.push('');
  out.push(`tools/call of echo: direct to server-everything (Streamable HTTP) vs through the gateway (1 edge, 1 connector), master key`);
  out.push(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ${ROUNDS} rounds x ${ROUND_MS / 1000} s per side after ${WARMUP_MS / 1000} s warm-up`);
  out.push('');
  out.push(line(rows[0]));
  for (const r of rows.slice(1)) out.push(line(r));
  out.push('');
  // The same run, the gateway with a virtual key instead of the master key.
  const keyRows = [['c', 'gateway, master key: added p50 ms', 'gateway, virtual key: added p50 ms', 'difference ms', 'virtual key p50 ms', 'virtual key p99 ms', 'virtual key calls/s', 'errors k']];
  for (const { concurrency, direct, gateway, gatewayKey } of results) {
    keyRows.push([
      String(concurrency),
      f(gateway.p50 - direct.p50),
      f(gatewayKey.p50 - direct.p50),
      f(gatewayKey.p50 - gateway.p50),
      f(gatewayKey.p50),
      f(gatewayKey.p99),
      f(gatewayKey.throughput, 0),
      String(gatewayKey.errors),
    ]);
  }
  const keyWidths = keyRows[0].map((_, i) => Math.max(...keyRows.map((r) => r[i].length)));
  const keyLine = (r) => r.map((cell, i) => cell.padStart(keyWidths[i])).join('  ');
  out.push('the gateway with a virtual key (object_permission allows the server, no rate limits) vs the master key, same run:');
  out.push('');
  for (const r of keyRows) out.push(keyLine(r));
  out.push('');
  // The same run, the same gateway spoken to in 2026-07-28 (stateless) instead of a 2025-06-18 session.
  const eraRows = [['c', '2025-06-18 session: added p50 ms', '2025 calls/s', '2026-07-28 stateless: added p50 ms', '2026 added p99 ms', '2026 calls/s', 'throughput ratio 2026/2025', 'errors']];
  for (const { concurrency, direct, gateway, gatewayModern } of results) {
    eraRows.push([
      String(concurrency),
      f(gateway.p50 - direct.p50),
      f(gateway.throughput, 0),
      f(gatewayModern.p50 - direct.p50),
      f(gatewayModern.p99 - direct.p99),
      f(gatewayModern.throughput, 0),
      f(gatewayModern.throughput / gateway.throughput),
      String(gatewayModern.errors),
    ]);
  }
  const eraWidths = eraRows[0].map((_, i) => Math.max(...eraRows.map((r) => r[i].length)));
  out.push('a modern (2026-07-28, no session) vs a 2025-era tools/call through the same gateway, same run, same direct upstream:');
  out.push('');
  for (const r of eraRows) out.push(r.map((cell, i) => cell.padStart(eraWidths[i])).join('  '));
  out.push('');
  // The same run, the one-process default (in-process bus, embedded database, memory stores).
  const oneRows = [['c', 'distributed: added p50 ms', 'one process: added p50 ms', 'one process: added p99 ms', 'one process calls/s', 'throughput ratio', 'errors']];
  for (const { concurrency, direct, gateway, oneProcess: one } of results) {
    oneRows.push([String(concurrency), f(gateway.p50 - direct.p50), f(one.p50 - direct.p50), f(one.p99 - direct.p99), f(one.throughput, 0), f(one.throughput / direct.throughput), String(one.errors)]);
  }
  const oneWidths = oneRows[0].map((_, i) => Math.max(...oneRows.map((r) => r[i].length)));
  out.push('the one-process default (npm start) vs the distributed suite, same run, against the same direct upstream:');
  out.push('');
  for (const r of oneRows) out.push(r.map((cell, i) => cell.padStart(oneWidths[i])).join('  '));
  out.push('');
  if (startTimes) {
    out.push(`target: one-process start to first tools/list on a new data folder <= ${TARGET_START_NEW_MS} ms: ${startTimes.newFolder} ms  ${startTimes.newFolder <= TARGET_START_NEW_MS ? 'PASS' : 'FAIL'}`);
    out.push(`target: one-process start to first tools/list on an existing data folder <= ${TARGET_START_EXISTING_MS} ms: ${startTimes.existingFolder} ms  ${startTimes.existingFolder <= TARGET_START_EXISTING_MS ? 'PASS' : 'FAIL'}`);
  }
  const at = (c) => results.find((r) => r.concurrency === c);
  const c1 = at(1);
  const c16 = at(16);
  if (c1) {
    const added = c1.gateway.p50 - c1.direct.p50;
    out.push(`target: added p50 at concurrency 1 <= ${TARGET_ADDED_P50_MS} ms: ${f(added)} ms  ${added <= TARGET_ADDED_P50_MS ? 'PASS' : 'FAIL'}`);
  }
  if (c1) {
    const difference = c1.gatewayKey.p50 - c1.gateway.p50;
    out.push(
      `target: key check adds at most ${TARGET_KEY_CHECK_MS} ms to the added p50 (no extra NATS hop): virtual key ${f(c1.gatewayKey.p50 - c1.direct.p50)} ms vs master key ${f(c1.gateway.p50 - c1.direct.p50)} ms, difference ${f(difference)} ms  ${difference <= TARGET_KEY_CHECK_MS ? 'PASS' : 'FAIL'}`,
    );
  }
  if (c16) {
    const ratio = c16.gateway.throughput / c16.direct.throughput;
    out.push(`target: throughput ratio at concurrency 16 >= ${TARGET_RATIO}: ${f(ratio)}  ${ratio >= TARGET_RATIO ? 'PASS' : 'FAIL'}`);
  }
  if (c1) {
    const { quietAdded, observedAdded, rounds } = c1.observability;
    const allowed = Math.max(0.1, 0.1 * quietAdded);
    const change = observedAdded - quietAdded;
    out.push(
      `target: metrics + tracing (on, no exporter) change the one-process added p50 by at most max(0.1 ms, 10 %): ${f(quietAdded)} ms without, ${f(observedAdded)} ms with, change ${f(change)} ms (median of ${rounds} alternating rounds, concurrency 1)  ${change <= allowed ? 'PASS' : 'FAIL'}`,
    );
  }
  if (llmResults) out.push('', ...reportLlm(llmResults));
  const errors = results.reduce((n, r) => n + r.direct.errors + r.gateway.errors + r.gatewayKey.errors + r.gatewayModern.errors + r.oneProcess.errors + r.quiet.errors + r.observed.errors, 0);
  if (errors > 0) out.push(`warning: ${errors} calls failed (see the errors above); their latencies are not counted`);
  process.stdout.write(out.join('\n') + '\n');
  if (argv.includes('--json')) process.stdout.write(JSON.stringify(results) + '\n');
}

try {
  const results = await main();
  report(results);
} catch (error) {
  process.stdout.write(`\nbench: could not measure: ${error.message}\n`);
  if (suite) process.stdout.write(`${suite.logs().split('\n').slice(-60).join('\n')}\n`);
} finally {
  await cleanUp();
}
process.exit(0);
