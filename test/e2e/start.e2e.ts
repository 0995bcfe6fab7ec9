import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/lib/suite.mjs';
import { connectClient, eventually, freePort, textOf, toolNames } from './support/index.js';

// Issue 2, done-means 1: `npm start` gives a gateway that aggregates config.example.yaml's servers (here on a
// free port and with its own namespace, Redis prefix and database, so that it never meets another run).

const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const database = `sb_e2e_start_${id}`;
const redisPrefix = `sb_e2e_start_${id}:`;
let supervisor: ChildProcess | undefined;
const output: string[] = [];

afterAll(async () => {
  if (supervisor && supervisor.exitCode === null) {
    supervisor.kill('SIGKILL');
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).finally(() => client.end());
  const { Redis } = await import('ioredis');
  const redis = new Redis('redis://127.0.0.1:6379');
  const keys = await redis.keys(`${redisPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('npm start', () => {
  it('serves config.example.yaml’s servers with the development master key, and Ctrl-C stops every service', async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      NATS_NAMESPACE: `e2e_start_${id}`,
      REDIS_PREFIX: redisPrefix,
      DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
    };
    delete env.MASTER_KEY;
    delete env.SWITCHBOARD_CONFIG;
    supervisor = spawn(process.execPath, ['scripts/start.mjs'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: supervisor.stdout! }).on('line', (line) => output.push(line));
    createInterface({ input: supervisor.stderr! }).on('line', (line) => output.push(line));
    const exited = new Promise<number | null>((done) => supervisor!.once('exit', (code) => done(code)));

    try {
      await eventually(() => output.some((line) => /supervisor\s+info\s+ready in/.test(line)), 60_000, 200);
      expect(output.join('\n')).toContain(`http://localhost:${port}/mcp`);
      expect(output.join('\n')).toMatch(/using "sk-1234" for local development/);
      // One readable stream: `HH:MM:SS service level msg`, not raw JSON.
      expect(output.some((line) => /^\d\d:\d\d:\d\d edge\s+info\s/.test(line))).toBe(true);
      expect(output.some((line) => line.startsWith('{'))).toBe(false);

      const client = await connectClient(`http://127.0.0.1:${port}/mcp`, 'sk-1234');
      await eventually(async () => (await toolNames(client)).includes('everything-echo'), 20_000);
      expect(textOf(await client.callTool({ name: 'everything-echo', arguments: { message: 'from npm start' } }))).toBe('Echo: from npm start');
      await client.close();

      const pids = await childPids(supervisor.pid!);
      expect(pids.length).toBeGreaterThanOrEqual(6); // five services and the stdio server-everything
      supervisor.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 8000))]);
      expect(code).toBe(0);
      for (const pid of pids) expect(alive(pid), `process ${pid} still running`).toBe(false);
    } catch (error) {
      process.stderr.write(`\n===== npm start output =====\n${output.join('\n')}\n`);
      throw error;
    }
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Descendants of `pid`: the services and the stdio servers they started (Linux /proc). */
async function childPids(pid: number): Promise<number[]> {
  const { readFile } = await import('node:fs/promises');
  let direct: number[] = [];
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    direct = text.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
  const nested = await Promise.all(direct.map((child) => childPids(child)));
  return [...direct, ...nested.flat()];
}
