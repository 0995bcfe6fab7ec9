/**
 * Private brokers for the resilience suite: NATS, Redis and Postgres of its own on free ports of 127.0.0.1, which
 * it may stop and start again without touching the machine's shared servers. Each is a child of this process (or,
 * for Postgres, a postmaster started with pg_ctl as the postgres user when this process runs as root) and is
 * stopped when this process exits.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../scripts/lib/suite.mjs';

export interface Broker {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  /** Running now? */
  readonly up: boolean;
  /** Starts it again on the same port (and, for Postgres, the same data). Resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it (fast: clients see their connections close). */
  stop(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
  /** Stops it for good and removes its files. */
  close(): Promise<void>;
}

const cleanups = new Set<() => void>();
process.once('exit', () => {
  for (const cleanup of cleanups) cleanup();
});

function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1');
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, failed: () => string | undefined = () => undefined): Promise<void> {
  const started = Date.now();
  for (;;) {
    const why = failed();
    if (why) throw new Error(`${what}: ${why}`);
    if (await check()) return;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A broker that is one child process (NATS, Redis): started again on the same port with the same arguments. */
async function childBroker(name: string, command: string, args: (port: number) => string[], url: (port: number) => string): Promise<Broker> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let output: string[] = [];
  const kill = () => child?.kill('SIGKILL');
  cleanups.add(kill);
  const broker: Broker = {
    name,
    url: url(port),
    port,
    get up() {
      return !!child && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      if (broker.up) return;
      output = [];
      const proc = spawn(command, args(port), { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      const keep = (chunk: Buffer) => {
        output.push(chunk.toString('utf8'));
        if (output.length > 200) output.shift();
      };
      proc.stdout!.on('data', keep);
      proc.stderr!.on('data', keep);
      await waitFor(`${name} on ${port}`, () => portOpen(port), 15_000, () =>
        proc.exitCode !== null || proc.signalCode !== null ? `exited (${proc.exitCode ?? proc.signalCode}): ${output.join('').slice(-2000)}` : undefined,
      );
    },
    async stop() {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
      // the port is free again once nothing listens (a restart binds it at once)
      await waitFor(`${name} on ${port} to close`, async () => !(await portOpen(port)), 5_000);
    },
    async restart() {
      await broker.stop();
      await broker.start();
    },
    async close() {
      await broker.stop();
      cleanups.delete(kill);
    },
  };
  await broker.start();
  return broker;
}

export function startNats(): Promise<Broker> {
  return childBroker('nats', 'nats-server', (port) => ['-a', '127.0.0.1', '-p', String(port)], (port) => `nats://127.0.0.1:${port}`);
}

export function startRedis(): Promise<Broker> {
  // no persistence: a restart loses every key, as a cache that is rebuilt must tolerate
  return childBroker(
    'redis',
    'redis-server',
    (port) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
    (port) => `redis://127.0.0.1:${port}`,
  );
}

/** The folder of Postgres's server programs (initdb, pg_ctl), or undefined. */
function postgresBin(): string | undefined {
  const config = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const fromConfig = config.status === 0 ? config.stdout.trim() : '';
  if (fromConfig && existsSync(join(fromConfig, 'pg_ctl'))) return fromConfig;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    for (const version of readdirSync(root).sort((a, b) => Number(b) - Number(a))) {
      const bin = join(root, version, 'bin');
      if (existsSync(join(bin, 'pg_ctl'))) return bin;
    }
  }
  return undefined;
}

/** Postgres in a fresh data folder: initdb, then pg_ctl start/stop, as the postgres user when this process is root. */
export async function startPostgres(): Promise<Broker> {
  const bin = postgresBin();
  if (!bin) throw new Error('no Postgres server programs (initdb, pg_ctl) found');
  const asRoot = process.getuid?.() === 0;
  const run = (program: string, args: string[]) =>
    asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', join(bin, program), ...args], { encoding: 'utf8' }) : spawnSync(join(bin, program), args, { encoding: 'utf8' });
  const dir = mkdtempSync(join(tmpdir(), 'sb-resilience-pg-'));
  if (asRoot) chownSync(dir, uidOf('postgres'), gidOf('postgres'));
  const data = join(dir, 'data');
  const init = run('initdb', ['-D', data, '--auth=trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`;
  let up = false;
  const stopNow = () => {
    if (up) run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
    up = false;
  };
  cleanups.add(stopNow);
  const broker: Broker = {
    name: 'postgres',
    url: `postgres://postgres@127.0.0.1:${port}`,
    port,
    get up() {
      return up;
    },
    async start() {
      if (up) return;
      const started = run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '30', 'start']);
      if (started.status !== 0) throw new Error(`pg_ctl start failed: ${started.stderr || started.stdout}`);
      up = true;
      await waitFor(`postgres on ${port}`, () => portOpen(port), 15_000);
    },
    async stop() {
      if (!up) return;
      // fast: sessions are cut (as when the database host restarts), nothing is waited for
      const stopped = run('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
      if (stopped.status !== 0) throw new Error(`pg_ctl stop failed: ${stopped.stderr || stopped.stdout}`);
      up = false;
    },
    async restart() {
      await broker.stop();
      await broker.start();
    },
    async close() {
      stopNow();
      cleanups.delete(stopNow);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
}

function uidOf(user: string): number {
  return Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
}

function gidOf(user: string): number {
  return Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
}

export interface Brokers {
  nats: Broker;
  redis: Broker;
  postgres: Broker;
  /** What startSuite takes to run on them. */
  suiteOptions: { natsUrl: string; redisUrl: string; pgBase: string };
  close(): Promise<void>;
}

/** All three, started together. */
export async function startBrokers(): Promise<Brokers> {
  const [nats, redis, postgres] = await Promise.all([startNats(), startRedis(), startPostgres()]);
  return {
    nats,
    redis,
    postgres,
    suiteOptions: { natsUrl: nats.url, redisUrl: redis.url, pgBase: postgres.url },
    close: async () => {
      await Promise.all([nats.close(), redis.close(), postgres.close()]);
    },
  };
}
