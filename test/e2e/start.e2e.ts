import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/lib/suite.mjs';
import { api, callApi, connectClient, eventually, freePort, startEverything, textOf, toolNames } from './support/index.js';

// `npm start` as a user runs it: the one-process default with nothing else (issue 6, done means 1 and 5) and the
// distributed suite with --distributed; each stops completely, stdio upstreams included, on one signal.

const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const SHARED_SERVER_PORTS = [4222, 5432, 6379]; // the machine's NATS, Postgres and Redis
const cleanups: (() => Promise<void> | void)[] = [];
const started: Supervisor[] = [];

afterEach((context) => {
  if (context.task.result?.state === 'fail') for (const s of started) process.stderr.write(`\n===== ${s.label} output =====\n${s.output.join('\n')}\n`);
});

afterAll(async () => {
  for (const s of started) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Supervisor {
  label: string;
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
  port: number;
  url: string;
}

/** `npm start [args]` (or `node scripts/start.mjs` when `viaNpm` is false) with `env` on top of a clean environment. */
function npmStart(label: string, port: number, env: Record<string, string>, args: string[] = [], viaNpm = false): Supervisor {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['NATS_URL', 'DATABASE_URL', 'REDIS_URL', 'SWITCHBOARD_DATA_DIR', 'MASTER_KEY', 'SWITCHBOARD_CONFIG', 'NATS_NAMESPACE', 'REDIS_PREFIX', 'SWITCHBOARD_SALT_KEY']) delete base[name];
  const fullEnv = { ...base, PORT: String(port), ...env };
  const child = viaNpm
    ? spawn('npm', ['start', ...(args.length ? ['--', ...args] : [])], { cwd: ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, ['scripts/start.mjs', ...args], { cwd: ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => output.push(line));
  createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const supervisor = { label, child, output, exited, port, url: `http://127.0.0.1:${port}` };
  started.push(supervisor);
  return supervisor;
}

async function ready(s: Supervisor): Promise<void> {
  await eventually(() => {
    if (s.child.exitCode !== null) throw new Error(`${s.label} exited (${s.child.exitCode}) before it was ready`);
    // the last of the lines said when ready (they may arrive in separate chunks)
    return s.output.some((line) => /supervisor\s+info\s+master key:/.test(line));
  }, 90_000, 100);
}

/** Stops `s` with `signal` sent to `pid` only (not its group) and proves every process it had is gone within 10 s. */
async function stopsCompletely(s: Supervisor, pid: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const pids = descendants(pid);
  process.kill(pid, signal);
  await eventually(() => [pid, ...pids].every((p) => !alive(p)), 10_000, 50).catch(() => {
    throw new Error(`still running 10 s after ${signal}: ${[pid, ...pids].filter(alive).map(commandOf).join('; ')}`);
  });
}

const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

describe('npm start: the one-process default', () => {
  it('needs nothing else: no connection to NATS, Postgres or Redis; serves, keeps what was created across a restart, and stops completely', async () => {
    const dataDir = join(tempDir('switchboard-start-'), 'data');
    const port = await freePort();
    const everything = await startEverything('streamableHttp');
    cleanups.push(() => everything.stop());

    const first = npmStart('npm start (one process)', port, { SWITCHBOARD_DATA_DIR: dataDir });
    await ready(first);
    const text = first.output.join('\n');
    expect(text).toMatch(/one process: bus in-process, database embedded \([^)]+\), stores in memory/);
    expect(text).toContain(`http://localhost:${port}/mcp`);
    expect(text).toMatch(/using "sk-1234" for local development/);
    expect(first.output.some((line) => line.startsWith('{'))).toBe(false); // one readable stream, not raw JSON

    const pids = [first.child.pid!, ...descendants(first.child.pid!)];
    expect(pids.map(commandOf).join('\n')).toContain('server-everything'); // the stdio upstream of config.example.yaml
    for (const pid of pids) {
      const remotePorts = tcpRemotePorts(pid);
      expect(remotePorts.filter((p) => SHARED_SERVER_PORTS.includes(p)), `${commandOf(pid)} connects to ${remotePorts}`).toEqual([]);
    }

    const client = await connectClient(`${first.url}/mcp`, 'sk-1234');
    await eventually(async () => (await toolNames(client)).includes('everything-echo'), 20_000);
    expect(textOf(await client.callTool({ name: 'everything-echo', arguments: { message: 'one process' } }))).toBe('Echo: one process');
    await client.close();
    await expectAdminUi(first.url);

    const { key } = await api(first.url, 'sk-1234', '/key/generate', { key_alias: `start-${id}`, object_permission: { mcp_servers: ['everything'] } });
    await api(first.url, 'sk-1234', '/v1/mcp/server', { server_name: 'ev_http', url: everything.url, transport: 'http', allow_all_keys: true });

    await stopsCompletely(first, first.child.pid!);
    expect(await first.exited).toBe(0);

    const second = npmStart('npm start (one process, again)', port, { SWITCHBOARD_DATA_DIR: dataDir });
    await ready(second);
    const servers = await api<{ server_name: string }[]>(second.url, 'sk-1234', '/v1/mcp/server');
    expect(servers.map((s) => s.server_name).sort()).toEqual(['ev_http', 'everything']);
    const asKey = await connectClient(`${second.url}/mcp`, key);
    await eventually(async () => {
      const names = await toolNames(asKey);
      return names.includes('everything-echo') && names.includes('ev_http-echo');
    }, 20_000);
    expect(textOf(await asKey.callTool({ name: 'ev_http-echo', arguments: { message: 'after restart' } }))).toBe('Echo: after restart');
    await asKey.close();
    await stopsCompletely(second, second.child.pid!);
  });

  it('`npm start &` then `kill $!` (a signal to npm alone) leaves nothing running and frees the port', async () => {
    const port = await freePort();
    const s = npmStart('npm start via npm', port, { SWITCHBOARD_DATA_DIR: join(tempDir('switchboard-npm-'), 'data') }, [], true);
    await ready(s);
    await stopsCompletely(s, s.child.pid!);
    const probe = await callApi(s.url, 'sk-1234', '/health/liveliness').catch((error: Error) => error);
    expect(probe).toBeInstanceOf(Error); // nothing listens on the port any more
  });
});

describe('npm start -- --distributed', () => {
  it('names every missing URL in one line and starts nothing', async () => {
    const s = npmStart('distributed without URLs', await freePort(), { NATS_URL: 'nats://127.0.0.1:4222' }, ['--distributed']);
    expect(await s.exited).toBe(1);
    const text = s.output.join('\n');
    expect(text).toMatch(/--distributed .*set DATABASE_URL, REDIS_URL, SWITCHBOARD_SALT_KEY/);
    expect(text).not.toMatch(/NATS_URL,/);
  });

  it('runs the five services on NATS, Postgres and Redis, and SIGTERM to the supervisor stops them all, stdio upstreams included', async () => {
    const database = `sb_e2e_start_${id}`;
    const redisPrefix = `sb_e2e_start_${id}:`;
    cleanups.push(async () => {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).finally(() => client.end());
      const { deleteRedisKeys } = await import('#libs/cache');
      await deleteRedisKeys('redis://127.0.0.1:6379', redisPrefix);
    });
    const s = npmStart(
      'npm start --distributed',
      await freePort(),
      {
        NATS_URL: 'nats://127.0.0.1:4222',
        NATS_NAMESPACE: `e2e_start_${id}`,
        DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
        REDIS_URL: 'redis://127.0.0.1:6379',
        REDIS_PREFIX: redisPrefix,
        SWITCHBOARD_SALT_KEY: `e2e-start-salt-${id}`,
      },
      ['--distributed'],
    );
    await ready(s);
    expect(s.output.some((line) => /^\d\d:\d\d:\d\d edge\s+info\s/.test(line))).toBe(true);
    const client = await connectClient(`${s.url}/mcp`, 'sk-1234');
    await eventually(async () => (await toolNames(client)).includes('everything-echo'), 20_000);
    expect(textOf(await client.callTool({ name: 'everything-echo', arguments: { message: 'distributed' } }))).toBe('Echo: distributed');
    await client.close();
    await expectAdminUi(s.url);
    // the container health check of deploy/ answers for every service of this suite
    for (const service of ['registry', 'auth', 'connector', 'llm-proxy', 'edge']) {
      const check = spawnSync(process.execPath, ['deploy/healthcheck.mjs', service], {
        cwd: ROOT,
        env: { ...process.env, NATS_URL: 'nats://127.0.0.1:4222', NATS_NAMESPACE: `e2e_start_${id}`, PORT: String(s.port) },
        encoding: 'utf8',
        timeout: 10_000,
      });
      expect(check.status, `healthcheck ${service}: ${check.stderr}`).toBe(0);
    }
    // the socket reading that proves the one-process default connects to none of these sees them here
    const remote = descendants(s.child.pid!).flatMap(tcpRemotePorts);
    expect(remote).toContain(4222);
    expect(remote).toContain(5432);
    expect(remote).toContain(6379);
    const commands = descendants(s.child.pid!).map(commandOf).join('\n');
    for (const service of ['registry', 'auth', 'connector', 'llm-proxy', 'edge']) expect(commands).toContain(`dist/services/${service}/src/main.js`);
    expect(commands).toContain('server-everything');
    await stopsCompletely(s, s.child.pid!);
  });
});

/** The admin UI that the build made is served at /ui, its script and styles with it (issue 11). */
async function expectAdminUi(url: string): Promise<void> {
  const page = await fetch(`${url}/ui/`);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('<div id="app">');
  for (const asset of html.match(/\/ui\/assets\/[^"]+/g) ?? []) expect((await fetch(`${url}${asset}`)).status, asset).toBe(200);
  expect(html.match(/\/ui\/assets\/[^"]+/g)?.length).toBeGreaterThanOrEqual(2);
}

// ---- /proc ---------------------------------------------------------------------------------------------

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '); // a zombie has exited
  } catch {
    return false;
  }
}

function commandOf(pid: number): string {
  try {
    return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()}`;
  } catch {
    return `${pid} (gone)`;
  }
}

/** Every descendant of `pid` (Linux /proc): the services and the stdio servers they started. */
function descendants(pid: number): number[] {
  let direct: number[] = [];
  try {
    direct = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return direct.flatMap((child) => [child, ...descendants(child)]);
}

/** The remote ports of the TCP sockets `pid` holds open (its fds matched against /proc/<pid>/net/tcp and tcp6). */
function tcpRemotePorts(pid: number): number[] {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return []; // the process has ended meanwhile (e.g. a catalog session's stdio server)
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      /* closed meanwhile */
    }
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let rows: string;
    try {
      rows = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      return []; // the process ended between reading its fds and its socket table
    }
    for (const line of rows.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || !inodes.has(fields[9]!)) continue;
      ports.push(parseInt(fields[2]!.split(':')[1]!, 16));
    }
  }
  return ports;
}
