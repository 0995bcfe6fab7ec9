// Starts the gateway for a test or a benchmark, isolated from anything else on the machine: the distributed suite
// (separate processes with their own NATS namespace, Redis key prefix, database and ports) or the one-process
// default (its own data folder and port). Used by the e2e tests (test/e2e/support) and `npm run bench`.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SERVICES = ['registry', 'auth', 'llm-proxy', 'connector', 'edge'];
export const EVERYTHING_ENTRY = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
export const COUNTING_SERVER_ENTRY = join(ROOT, 'dist/test/fixtures/counting-server.js');

const NATS_URL = process.env.E2E_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS_URL = process.env.E2E_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PG_BASE = process.env.E2E_PG_BASE ?? 'postgres://postgres@127.0.0.1:5432';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A port nothing listens on right now: bind port 0 on 127.0.0.1, read it, close. */
export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** Children still running, killed if this process exits without stopping them. */
const live = new Set();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Spawns `node <script> ...args` and keeps its output lines.
 * @returns {{ name: string, child: import('node:child_process').ChildProcess, output: string[], exited: Promise<number|null>, waitForLine: (pattern: RegExp, timeoutMs?: number) => Promise<string>, stop: () => Promise<void> }}
 */
export function spawnNode(name, script, args, { env = process.env, cwd = ROOT, echo = false } = {}) {
  const child = spawn(process.execPath, [script, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const output = [];
  const watchers = new Set();
  const onLine = (line) => {
    output.push(line);
    if (output.length > 5000) output.splice(0, output.length - 5000);
    if (echo) process.stderr.write(`[${name}] ${line}\n`);
    for (const watcher of watchers) watcher(line);
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);
  let exitCode;
  const exited = new Promise((done) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      exitCode = code ?? signal;
      output.push(`(exited: ${code ?? signal})`);
      for (const watcher of watchers) watcher(undefined);
      done(code);
    }),
  );
  return {
    name,
    child,
    output,
    exited,
    waitForLine(pattern, timeoutMs = 15_000) {
      const seen = output.find((line) => pattern.test(line));
      if (seen) return Promise.resolve(seen);
      return new Promise((done, fail) => {
        const timer = setTimeout(() => {
          watchers.delete(watcher);
          fail(new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms\n${output.slice(-30).join('\n')}`));
        }, timeoutMs);
        const watcher = (line) => {
          if (line === undefined) {
            clearTimeout(timer);
            watchers.delete(watcher);
            fail(new Error(`${name} exited (${exitCode}) before printing ${pattern}\n${output.slice(-30).join('\n')}`));
          } else if (pattern.test(line)) {
            clearTimeout(timer);
            watchers.delete(watcher);
            done(line);
          }
        };
        watchers.add(watcher);
      });
    },
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForPort(port, timeoutMs, alive) {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (!alive()) return false;
    const open = await new Promise((done) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
      socket.connect(port, '127.0.0.1');
    });
    if (open) return true;
    await sleep(50);
  }
  return false;
}

/**
 * server-everything. 'stdio' returns the command and args for a config entry; 'sse' and 'streamableHttp'
 * start it on a free port and return its URL once it listens.
 */
export async function startEverything(transport, { echo = false } = {}) {
  if (transport === 'stdio') return { command: process.execPath, args: [EVERYTHING_ENTRY, 'stdio'], stop: async () => {} };
  if (transport !== 'sse' && transport !== 'streamableHttp') throw new Error(`unknown transport ${transport}`);
  const port = await freePort();
  const proc = spawnNode(`everything-${transport}`, EVERYTHING_ENTRY, [transport], { env: { ...process.env, PORT: String(port) }, echo });
  const up = await waitForPort(port, 15_000, () => proc.child.exitCode === null);
  if (!up) {
    await proc.stop();
    throw new Error(`server-everything (${transport}) did not listen on ${port}\n${proc.output.join('\n')}`);
  }
  const url = transport === 'sse' ? `http://127.0.0.1:${port}/sse` : `http://127.0.0.1:${port}/mcp`;
  return { url, port, process: proc, stop: () => proc.stop() };
}

/** The counting fixture (test/fixtures/counting-server.ts, built): Streamable HTTP on /mcp, GET /stats. */
export async function startCountingServer({ echo = false } = {}) {
  if (!existsSync(COUNTING_SERVER_ENTRY)) throw new Error(`${COUNTING_SERVER_ENTRY} is missing: build test/fixtures/counting-server.ts first`);
  const port = await freePort();
  const proc = spawnNode('counting-server', COUNTING_SERVER_ENTRY, [], { env: { ...process.env, PORT: String(port) }, echo });
  await proc.waitForLine(/listening \d+/);
  const base = `http://127.0.0.1:${port}`;
  return {
    url: `${base}/mcp`,
    port,
    process: proc,
    stats: async () => (await fetch(`${base}/stats`)).json(),
    stop: () => proc.stop(),
  };
}

function uniqueId() {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

async function dropDatabase(name, pgBase = PG_BASE) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: `${pgBase}/postgres` });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** Waits until the database exists (or `alive()` turns false, or the time is up: then auth creates it itself). */
async function waitForDatabase(name, timeoutMs, alive, pgBase = PG_BASE) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: `${pgBase}/postgres` });
  await client.connect();
  try {
    const started = Date.now();
    while (Date.now() - started < timeoutMs && alive()) {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (rowCount) return;
      await sleep(50);
    }
  } finally {
    await client.end();
  }
}

async function deleteRedisPrefix(prefix, redisUrl = REDIS_URL) {
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * Starts registry, auth, llm-proxy, `connectors` connectors and `edges` edges as separate processes and waits
 * until every edge's /health/readiness answers 200.
 */
export async function startSuite(options = {}) {
  return (options.mode ?? 'distributed') === 'one-process' ? startOneProcess(options) : startDistributed(options);
}

/** Runs `start`; when it fails, stops what it started and adds every process's output to the error. */
async function startOrStop(start, stop, logs) {
  try {
    await start();
  } catch (error) {
    const text = logs();
    await stop();
    error.message += `\n${text}`;
    throw error;
  }
}

/** The suite's config file in a fresh temporary folder. */
function writeSuiteConfig(config) {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-suite-'));
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, typeof config === 'string' ? config : toYaml(config));
  return { dir, configPath };
}

/** The environment of a suite's processes: this one's, less what a test must not inherit. */
function suiteBaseEnv(extra) {
  const env = { ...process.env };
  for (const name of ['PORT', 'NATS_URL', 'DATABASE_URL', 'REDIS_URL', 'SWITCHBOARD_DATA_DIR']) delete env[name];
  return Object.assign(env, { LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'info' }, extra);
}

async function waitReady(url, proc, timeoutMs, anyDead = () => undefined) {
  const started = Date.now();
  let last = '';
  while (Date.now() - started < timeoutMs) {
    const dead = proc.child.exitCode !== null ? proc : anyDead();
    if (dead) throw new Error(`${dead.name} exited during start-up:\n${dead.output.slice(-40).join('\n')}`);
    try {
      const response = await fetch(`${url}/health/readiness`, { signal: AbortSignal.timeout(2000) });
      last = `${response.status} ${(await response.text()).slice(0, 500)}`;
      if (response.status === 200) return;
    } catch (error) {
      last = error.cause?.code ?? error.message;
    }
    await sleep(100);
  }
  throw new Error(`${proc.name} not ready within ${timeoutMs} ms (${url}/health/readiness: ${last})`);
}

/**
 * The one-process default (services/one-process) with nothing else: the in-process bus, the embedded database in
 * a fresh data folder and memory stores. `restart()` stops it and starts it again on the same folder and port.
 */
async function startOneProcess({ config = {}, masterKey = 'sk-e2e-master-key', env: extraEnv = {}, echo = !!process.env.DEBUG_E2E, readyTimeoutMs = 60_000 } = {}) {
  const main = join(ROOT, 'dist/services/one-process/src/main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run the build (npx tsc -p tsconfig.build.json)`);
  const id = uniqueId();
  const { dir, configPath } = writeSuiteConfig(config);
  const dataDir = join(dir, 'data');
  const port = await freePort();
  const env = suiteBaseEnv({ MASTER_KEY: masterKey, SWITCHBOARD_CONFIG: configPath, SWITCHBOARD_DATA_DIR: dataDir, PORT: String(port), ...extraEnv });
  const url = `http://127.0.0.1:${port}`;
  const processes = new Map([['one-process', []]]);

  async function start() {
    const list = processes.get('one-process');
    const proc = spawnNode(`one-process#${list.length}`, main, ['--config', configPath], { env, echo });
    list.push(proc);
    await waitReady(url, proc, readyTimeoutMs);
    return proc;
  }
  const logs = () => processes.get('one-process').map((p) => `----- ${p.name} -----\n${p.output.join('\n')}`).join('\n');
  const current = () => processes.get('one-process').at(-1);

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    await current()?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  await startOrStop(start, stop, logs);
  return {
    mode: 'one-process',
    id,
    edgeUrls: [url],
    masterKey,
    dataDir,
    configPath,
    processes,
    logs,
    async restart() {
      await current().stop();
      await start();
    },
    startService() {
      throw new Error('the one-process default has no separate services to start');
    },
    stopService() {
      throw new Error('the one-process default has no separate services to stop');
    },
    stop,
  };
}

async function startDistributed({
  edges = 1,
  connectors = 1,
  config = {},
  masterKey = 'sk-e2e-master-key',
  env: extraEnv = {},
  echo = !!process.env.DEBUG_E2E,
  readyTimeoutMs = 60_000,
  // the brokers to use instead of the machine's (E2E_NATS_URL, E2E_REDIS_URL, E2E_PG_BASE or the defaults): the
  // resilience suite runs private ones it may stop and restart
  natsUrl = NATS_URL,
  redisUrl = REDIS_URL,
  pgBase = PG_BASE,
} = {}) {
  for (const name of SERVICES) {
    const main = join(ROOT, 'dist/services', name, 'src/main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run the build (npx tsc -p tsconfig.build.json)`);
  }
  const id = uniqueId();
  const { dir, configPath } = writeSuiteConfig(config);
  const database = `sb_e2e_${id}`;
  const redisPrefix = `sb_e2e_${id}:`;
  const namespace = `e2e_${id}`;
  const baseEnv = suiteBaseEnv({
    NATS_URL: natsUrl,
    NATS_NAMESPACE: namespace,
    DATABASE_URL: `${pgBase}/${database}`,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: redisPrefix,
    MASTER_KEY: masterKey,
    SWITCHBOARD_SALT_KEY: `e2e-salt-key-${id}`,
    SWITCHBOARD_CONFIG: configPath,
    ...extraEnv,
  });

  /** name -> list of processes (index = replica number; a stopped replica stays in place) */
  const processes = new Map(SERVICES.map((name) => [name, []]));
  const edgeUrls = [];

  async function startService(name, env = {}) {
    const list = processes.get(name);
    if (!list) throw new Error(`unknown service ${name}`);
    const serviceEnv = { ...baseEnv, ...env };
    if (name === 'edge') serviceEnv.PORT = String(env.PORT ?? (await freePort()));
    const index = list.length; // after the only await: replicas started together get distinct indexes
    const proc = spawnNode(`${name}#${index}`, join(ROOT, 'dist/services', name, 'src/main.js'), ['--config', configPath], { env: serviceEnv, echo });
    proc.port = name === 'edge' ? Number(serviceEnv.PORT) : undefined;
    list.push(proc);
    if (name === 'edge') {
      const url = `http://127.0.0.1:${proc.port}`;
      edgeUrls[index] = url;
      await waitReady(url, proc, readyTimeoutMs, () => [...processes.values()].flat().find((p) => p.child.exitCode !== null && !p.stoppedOnPurpose));
    }
    return { index, url: name === 'edge' ? edgeUrls[index] : undefined, process: proc };
  }

  function logs() {
    return [...processes.values()]
      .flat()
      .map((p) => `----- ${p.name} -----\n${p.output.join('\n')}`)
      .join('\n');
  }

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    const all = [...processes.values()].flat();
    // Edges first (they hold client sessions), then the rest.
    await Promise.all(all.filter((p) => p.name.startsWith('edge')).map((p) => p.stop()));
    await Promise.all(all.map((p) => p.stop()));
    await dropDatabase(database, pgBase).catch((error) => process.stderr.write(`could not drop ${database}: ${error.message}\n`));
    await deleteRedisPrefix(redisPrefix, redisUrl).catch((error) => process.stderr.write(`could not clear ${redisPrefix}*: ${error.message}\n`));
    rmSync(dir, { recursive: true, force: true });
  }

  await startOrStop(async () => {
    const starts = [];
    // registry and auth both create the suite's fresh database on first start: start auth once the registry has
    // created it, so that start-up does not depend on which of two concurrent CREATE DATABASE wins.
    starts.push(
      startService('registry').then(async ({ process: registry }) => {
        await waitForDatabase(database, readyTimeoutMs, () => registry.child.exitCode === null, pgBase);
        return startService('auth');
      }),
    );
    starts.push(startService('llm-proxy'));
    for (let i = 0; i < connectors; i++) starts.push(startService('connector'));
    await Promise.all(starts);
    await Promise.all(Array.from({ length: edges }, () => startService('edge')));
  }, stop, logs);

  return {
    mode: 'distributed',
    id,
    edgeUrls,
    masterKey,
    namespace,
    redisPrefix,
    databaseUrl: baseEnv.DATABASE_URL,
    configPath,
    processes,
    logs,
    startService,
    async stopService(name, index = 0) {
      const proc = processes.get(name)?.[index];
      if (!proc) throw new Error(`no ${name} #${index}`);
      proc.stoppedOnPurpose = true;
      await proc.stop();
    },
    /** kill -9: no shutdown work at all (the resilience suite's replica faults). Resolves once it has exited. */
    async killService(name, index = 0) {
      const proc = processes.get(name)?.[index];
      if (!proc) throw new Error(`no ${name} #${index}`);
      proc.stoppedOnPurpose = true;
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
      await proc.exited;
    },
    stop,
  };
}
