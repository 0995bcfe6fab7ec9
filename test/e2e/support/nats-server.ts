import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../scripts/lib/suite.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const NATS_SERVER = process.env.E2E_NATS_SERVER ?? '/usr/sbin/nats-server';

export interface DeployNats {
  port: number;
  servicesPassword: string;
  adminPassword: string;
  /** NATS_URL for the services: the `switchboard` user. */
  servicesUrl: string;
  /** The admin user's server and credentials, for nats.js `connect`. */
  admin: { servers: string; user: string; pass: string };
  logs: () => string;
  stop: () => Promise<void>;
}

/**
 * A nats-server of this test's own on a free port, with deploy/nats's configuration: its nats.conf with the port
 * substituted (the monitoring port and JetStream's folder too) and auth.conf, the users and permissions, unchanged.
 * The machine's shared NATS is never touched.
 */
export async function startDeployNats(): Promise<DeployNats> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-nats-'));
  const [port, httpPort] = [await freePort(), await freePort()];
  const conf = readFileSync(join(ROOT, 'deploy/nats/nats.conf'), 'utf8')
    .replace(/^port:\s*\d+/m, `port: ${port}`)
    .replace(/^http_port:\s*\d+/m, `http_port: ${httpPort}`)
    .replace(/store_dir:\s*\S+/, `store_dir: "${join(dir, 'jetstream')}"`);
  if (!conf.includes(`port: ${port}`) || !conf.includes('include ./auth.conf')) throw new Error('deploy/nats/nats.conf no longer has the lines this test substitutes');
  writeFileSync(join(dir, 'nats.conf'), conf);
  copyFileSync(join(ROOT, 'deploy/nats/auth.conf'), join(dir, 'auth.conf'));

  // a letter first: nats-server reads a variable's value as a config token, and one starting with a digit is a number
  const servicesPassword = `p${randomBytes(12).toString('hex')}`;
  const adminPassword = `p${randomBytes(12).toString('hex')}`;
  const child = spawn(NATS_SERVER, ['-c', join(dir, 'nats.conf'), '-a', '127.0.0.1'], {
    env: { ...process.env, NATS_SERVICES_PASSWORD: servicesPassword, NATS_ADMIN_PASSWORD: adminPassword },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const ready = new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`nats-server not ready within 15 s:\n${output.join('\n')}`)), 15_000);
    const onLine = (line: string) => {
      output.push(line);
      if (/Server is ready/.test(line)) {
        clearTimeout(timer);
        done();
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`nats-server exited (${code}):\n${output.join('\n')}`));
    });
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await ready;
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port,
    servicesPassword,
    adminPassword,
    servicesUrl: `nats://switchboard:${servicesPassword}@127.0.0.1:${port}`,
    admin: { servers: `127.0.0.1:${port}`, user: 'admin', pass: adminPassword },
    logs: () => output.join('\n'),
    stop,
  };
}
