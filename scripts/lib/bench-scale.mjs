// The scale figures of `npm run bench`, measured on a running gateway (either suite) against logical servers of
// the minimal upstream added through the admin API: the cold aggregate list across slow upstreams, the 2,000-tool
// aggregate list from the cache, and what idle 2025 sessions cost (edge heap) and how fast they are made.
import { getJson, percentile, pool, post, Session, ModernSession } from './bench-client.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The minimal upstream's counters of one logical server. */
async function upstreamStats(upstream, name) {
  return (await getJson(`${upstream.base}/stats?name=${encodeURIComponent(name)}`)).servers[name];
}

async function createServer(gateway, server_name, url) {
  const response = await post(`${gateway.base}/v1/mcp/server`, { server_name, url, transport: 'http' }, gateway.adminHeaders);
  if (response.status !== 200 && response.status !== 201) throw new Error(`creating ${server_name} answered ${response.status}: ${response.text.slice(0, 300)}`);
  return JSON.parse(response.text).server_id;
}

async function updateServer(gateway, server_id, url) {
  const response = await post(`${gateway.base}/v1/mcp/server`, { server_id, url }, gateway.adminHeaders, { method: 'PUT' });
  if (response.status !== 200) throw new Error(`updating ${server_id} answered ${response.status}: ${response.text.slice(0, 300)}`);
}

/**
 * Polls tools/list on `session` until `done(tools)`, `pauseMs` between answer and next request (so that polling does
 * not take the CPU the gateway needs to build the list); resolves with the hrtime (ns) of the answer that showed it.
 */
async function pollList(session, done, timeoutMs, pauseMs = 2) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { tools } = await session.listTools();
    if (done(tools)) return process.hrtime.bigint();
    if (Date.now() > until) throw new Error(`the list never showed what was expected within ${timeoutMs} ms`);
    await sleep(pauseMs);
  }
}

/**
 * The cold aggregate list: `count` servers whose every request is answered after `delayMs` (each a logical
 * server of the minimal upstream, `tools` tools) are added, then changed all at once through the admin API (a
 * new URL each: no cached list, no upstream session), `repeats` times. Per change it measures, at the client
 * polling tools/list every few ms: from the first upstream request of the new URLs to the first list showing
 * every server's new tools (`fromFirstRequest`, the figure the target is about), and from sending the first change
 * (`fromChange`, which adds the admin writes). The first addition is measured the same way (`added`).
 */
export async function measureColdList({ gateway, upstream, tag, count = 10, delayMs = 5, tools = 10, repeats = 3, log }) {
  const names = Array.from({ length: count }, (_, i) => `slow${String(i + 1).padStart(2, '0')}`);
  const urlOf = (name, generation) => upstream.urlOf({ name: `${tag}-${name}-g${generation}`, tools, delay: delayMs, eras: 'legacy' });
  const session = await new Session(gateway.mcpUrl, gateway.headers).initialize();
  const showsGeneration = (generation) => (list) => {
    const seen = new Set();
    for (const tool of list) {
      const match = /^(slow\d\d)-tool_1$/.exec(tool.name);
      if (match && tool.description?.includes(`-g${generation}:`)) seen.add(match[1]);
    }
    return seen.size === count;
  };
  const measure = async (generation, change) => {
    const sent = process.hrtime.bigint();
    const changing = change();
    const shown = await pollList(session, showsGeneration(generation), 30_000);
    await changing;
    const stats = await Promise.all(names.map((name) => upstreamStats(upstream, `${tag}-${name}-g${generation}`)));
    const first = stats.reduce((min, s) => (s?.firstRequestNs && BigInt(s.firstRequestNs) < min ? BigInt(s.firstRequestNs) : min), shown);
    const last = stats.reduce((max, s) => (s?.lastAnswerNs && BigInt(s.lastAnswerNs) > max ? BigInt(s.lastAnswerNs) : max), first);
    const ms = (ns) => Number(ns - sent) / 1e6;
    return {
      fromFirstRequest: Number(shown - first) / 1e6,
      fromChange: Number(shown - sent) / 1e6,
      // the upstream side: from the first request any of them got to the last answer any of them gave
      upstreamSpan: Number(last - first) / 1e6,
      upstreamRequests: stats.reduce((n, s) => n + Object.values(s?.methods ?? {}).reduce((a, b) => a + b, 0), 0),
      // per server, ms after the change was sent: [first request, last answer]
      servers: stats.map((s) => (s?.firstRequestNs ? [ms(BigInt(s.firstRequestNs)), ms(BigInt(s.lastAnswerNs))] : null)),
    };
  };
  const ids = new Map();
  const added = await measure(1, () => Promise.all(names.map(async (name) => ids.set(name, await createServer(gateway, name, urlOf(name, 1))))));
  log?.(`cold list: ${count} servers added (${added.fromChange.toFixed(1)} ms until listed); now changing them all at once, ${repeats} times`);
  const changes = [];
  for (let generation = 2; generation < 2 + repeats; generation++) {
    await sleep(300); // whatever the last change set off settles
    const change = await measure(generation, () => Promise.all(names.map((name) => updateServer(gateway, ids.get(name), urlOf(name, generation)))));
    changes.push(change);
    log?.(
      `cold list g${generation}: ${change.fromFirstRequest.toFixed(1)} ms from the first upstream request (upstream span ${change.upstreamSpan.toFixed(1)} ms); ` +
        `per server [first request, last answer] ms after the change: ${change.servers.map((s) => (s ? `[${s[0].toFixed(0)},${s[1].toFixed(0)}]` : '-')).join(' ')}`,
    );
  }
  const median = (key) => [...changes.map((c) => c[key])].sort((a, b) => a - b)[Math.floor((changes.length - 1) / 2)];
  return { count, delayMs, tools, added, changes, fromFirstRequest: median('fromFirstRequest'), fromChange: median('fromChange'), serverIds: [...ids.values()] };
}

/**
 * The big aggregate: `servers` servers of `tools` tools each are added, and once the list shows them all, `samples`
 * tools/list at concurrency 1 on one 2025 session (and as many 2026-07-28 ones), timed to the last byte at the client.
 */
export async function measureBigList({ gateway, upstream, tag, servers = 20, tools = 100, samples = 200, log }) {
  const names = Array.from({ length: servers }, (_, i) => `big${String(i + 1).padStart(2, '0')}`);
  const started = Date.now();
  await pool(names.length, 4, (i) => createServer(gateway, names[i], upstream.urlOf({ name: `${tag}-${names[i]}`, tools, eras: 'legacy' })));
  const session = await new Session(gateway.mcpUrl, gateway.headers).initialize();
  const expected = servers * tools;
  let total = 0;
  await pollList(
    session,
    (list) => {
      total = list.length;
      return list.filter((t) => t.name.startsWith('big')).length >= expected;
    },
    120_000,
  );
  log?.(`big list: ${servers} servers x ${tools} tools listed ${Date.now() - started} ms after the first was added (${total} tools in all)`);
  const modern = await new ModernSession(gateway.mcpUrl, gateway.headers).initialize();
  const result = {};
  for (const [era, client] of [['legacy', session], ['modern', modern]]) {
    for (let i = 0; i < 20; i++) await client.listTools(); // warm-up
    const times = [];
    let bytes = 0;
    let count = 0;
    for (let i = 0; i < samples; i++) {
      const answer = await client.listTools();
      times.push(answer.ms);
      bytes = answer.bytes;
      count = answer.tools.length;
    }
    const sorted = Float64Array.from(times).sort();
    result[era] = { p50: percentile(sorted, 50), p99: percentile(sorted, 99), bytes, tools: count };
  }
  return result;
}

/**
 * Idle 2025 sessions: `count` sessions opened (initialize + notifications/initialized, `concurrency` at a time)
 * and left idle; the heap after GC of the process holding them (`heap()`) before and after, per session, and the
 * sessions opened per second. `storeBytes()` (optional) is read the same way (the distributed suite's Redis).
 */
export async function measureSessions({ gateway, count = 10_000, concurrency = 32, heap, storeBytes, log }) {
  const heapBefore = await heap();
  const storeBefore = storeBytes?.();
  const started = process.hrtime.bigint();
  let failed = 0;
  await pool(count, concurrency, async () => {
    try {
      await new Session(gateway.mcpUrl, gateway.headers).initialize();
    } catch (error) {
      if (++failed <= 3) log?.(`session: ${error.message}`);
    }
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const heapAfter = await heap();
  const storeAfter = storeBytes?.();
  const made = count - failed;
  return {
    count: made,
    failed,
    perSecond: made / seconds,
    heapBefore,
    heapAfter,
    heapPerSession: (heapAfter - heapBefore) / made,
    storePerSession: storeBytes ? (storeAfter - storeBefore) / made : undefined,
  };
}
