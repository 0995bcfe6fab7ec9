// The soak of `npm run bench`, on a distributed suite of its own whose connector closes idle per-client upstream
// sessions after a short timeout: many 2025 sessions opened and abandoned (half declaring sampling, which gives
// each its own upstream session; some of those also on a stdio server, past its per-client cap), then many calls in
// one session; then the edge's and the connector's heap after GC against where they started, and what is left
// upstream (sessions the minimal upstream still holds, stdio processes under the connector) once the idle timeout
// has passed.
import { getJson, pool, Session } from './bench-client.mjs';
import { childrenOf, heapAfterGc, inspectorUrlOf } from './bench-procs.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Opens `count` sessions (every other one declaring sampling), each making one call; abandons them all. */
async function openAndAbandon({ gateway, count, concurrency, stdioEvery, log }) {
  let failed = 0;
  let sampling = 0;
  let stdio = 0;
  const started = process.hrtime.bigint();
  await pool(count, concurrency, async (i) => {
    const declares = i % 2 === 0;
    try {
      const session = await new Session(gateway.mcpUrl, gateway.headers, { capabilities: declares ? { sampling: {} } : {} }).initialize();
      await session.call('mini-echo', `abandoned ${i}`);
      if (declares) sampling++;
      if (declares && i % stdioEvery === 0) {
        await session.call('ministdio-echo', `abandoned ${i}`);
        stdio++;
      }
    } catch (error) {
      if (++failed <= 3) log?.(`soak session ${i}: ${error.message}`);
    }
  });
  return { count, failed, sampling, stdio, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

/** `calls` tools/calls in one session (declaring sampling: its own upstream session), `concurrency` at a time. */
async function manyCalls({ gateway, calls, concurrency, log }) {
  const session = await new Session(gateway.mcpUrl, gateway.headers, { capabilities: { sampling: {} } }).initialize();
  let failed = 0;
  const started = process.hrtime.bigint();
  await pool(calls, concurrency, async (i) => {
    try {
      await session.call('mini-echo', `call ${i}`);
    } catch (error) {
      if (++failed <= 3) log?.(`soak call ${i}: ${error.message}`);
    }
  });
  return { calls, failed, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

/**
 * Runs the soak. `suite` is a distributed suite started with the inspector on (heaps) whose config has `mini` (an
 * HTTP server of the minimal upstream named `upstreamName`) and `ministdio` (the minimal upstream over stdio), and
 * an idle timeout of `idleMs`.
 */
export async function runSoak({ gateway, suite, upstream, upstreamName, idleMs, sessions = 5000, calls = 50_000, concurrency = 32, callConcurrency = 8, stdioEvery = 50, log }) {
  const edge = suite.processes.get('edge')[0];
  const connector = suite.processes.get('connector')[0];
  const [edgeInspector, connectorInspector] = [inspectorUrlOf(edge), inspectorUrlOf(connector)];
  if (!edgeInspector || !connectorInspector) throw new Error('the soak suite must run with --inspect=127.0.0.1:0 (no inspector URL in its output)');
  const heaps = async () => ({ edge: await heapAfterGc(edgeInspector), connector: await heapAfterGc(connectorInspector) });
  const upstreamStats = async () => (await getJson(`${upstream.base}/stats?name=${encodeURIComponent(upstreamName)}`)).servers[upstreamName];
  const upstreamOpen = async () => (await upstreamStats())?.sessionsOpen ?? 0;
  const stdioProcesses = () => childrenOf(connector.child.pid).filter((c) => c.cmdline.includes('minimal-upstream')).length;
  /** Waits until what is open upstream has not changed for `ms`. */
  const stable = async (ms) => {
    let last = '';
    let since = Date.now();
    for (;;) {
      const now = `${await upstreamOpen()}/${stdioProcesses()}`;
      if (now !== last) [last, since] = [now, Date.now()];
      else if (Date.now() - since >= ms) return;
      await sleep(250);
    }
  };
  const settle = async (baseline) => {
    // the idle timeout, the sweep that follows it (a quarter of it) and the DELETEs
    const until = Date.now() + idleMs * 2 + 30_000;
    const since = Date.now();
    for (;;) {
      const [open, stdio] = [await upstreamOpen(), stdioProcesses()];
      if ((open <= baseline.upstreamSessions && stdio <= baseline.stdioProcesses) || Date.now() > until) return { open, stdio, ms: Date.now() - since };
      await sleep(250);
    }
  };

  // A warm-up as the soak does it, smaller: code compiled, pools and the shared sessions made (a client past the
  // stdio cap shares the `caps:` session of its capability set, which stays), then left to idle out.
  log?.('soak: warm-up (200 sessions, 2,000 calls), then the idle timeout');
  await openAndAbandon({ gateway, count: 200, concurrency, stdioEvery: 20, log });
  await manyCalls({ gateway, calls: 2000, concurrency: callConcurrency, log });
  await sleep(idleMs * 1.25 + 500);
  await stable(3000);
  const baseline = { upstreamSessions: await upstreamOpen(), stdioProcesses: stdioProcesses(), heap: await heaps() };
  log?.(`soak: start: ${baseline.upstreamSessions} upstream sessions, ${baseline.stdioProcesses} stdio processes; ${sessions} sessions opened and abandoned`);

  // the most open at once, sampled while the soak runs (the first sessions idle out before the last are opened)
  const peak = { upstreamSessions: 0, stdioProcesses: 0 };
  const openedBefore = (await upstreamStats())?.sessionsOpened ?? 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak.upstreamSessions = Math.max(peak.upstreamSessions, await upstreamOpen());
      peak.stdioProcesses = Math.max(peak.stdioProcesses, stdioProcesses());
      await sleep(250);
    }
  })();
  const abandoned = await openAndAbandon({ gateway, count: sessions, concurrency, stdioEvery, log });
  log?.(`soak: ${abandoned.count - abandoned.failed} sessions in ${abandoned.seconds.toFixed(1)} s; ${calls} calls in one session`);
  const called = await manyCalls({ gateway, calls, concurrency: callConcurrency, log });
  const lastActivity = Date.now();
  sampling = false;
  await sampler;
  peak.upstreamOpened = ((await upstreamStats())?.sessionsOpened ?? 0) - openedBefore;
  log?.(`soak: ${calls - called.failed} calls in ${called.seconds.toFixed(1)} s; waiting for the idle timeout (${idleMs / 1000} s)`);
  await sleep(idleMs);
  const settled = await settle(baseline);
  const end = { upstreamSessions: settled.open, stdioProcesses: settled.stdio, heap: await heaps(), afterIdleMs: Date.now() - lastActivity };
  return { idleMs, sessions: abandoned, calls: called, baseline, peak, end };
}
