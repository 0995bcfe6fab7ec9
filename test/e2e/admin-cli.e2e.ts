import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printLogsOnFailure, startEverything, startSuite, type HttpEverything, type Suite } from './support/index.js';
import { startDeployNats, type DeployNats } from './support/nats-server.js';

// Issue 13, done-means 1: the `switchboard` CLI (package.json bin, run as a child process) drives a server's add,
// list, test and remove and a key's create and delete, over REST and over NATS (as the deploy file's admin NATS
// user), with --json output parsed here; it exits non-zero with a clear message on bad input and on a wrong key,
// and never prints the key it was given.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/switchboard.mjs');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  json: any;
}

describe('the switchboard CLI', () => {
  let nats: DeployNats | undefined;
  let suite: Suite | undefined;
  let upstream: HttpEverything;
  const outputs: string[] = [];

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    upstream = await startEverything('streamableHttp');
    nats = await startDeployNats();
    suite = await startSuite({ mode: 'distributed', env: { NATS_URL: nats.servicesUrl, NATS_NAMESPACE: '' } });
  });

  afterAll(async () => {
    await suite?.stop();
    await nats?.stop();
    await upstream?.stop();
  });

  /** Runs the CLI with the gateway and key in its environment, as a script would. */
  function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        env: { ...process.env, SWITCHBOARD_URL: suite!.edgeUrls[0]!, SWITCHBOARD_KEY: suite!.masterKey, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
      child.once('error', fail);
      child.once('close', (code) => {
        clearTimeout(timer);
        outputs.push(stdout, stderr);
        let json: unknown;
        try {
          json = JSON.parse(stdout);
        } catch {
          json = undefined;
        }
        done({ code, stdout, stderr, json });
      });
    });
  }

  const TRANSPORTS = {
    rest: () => [] as string[],
    nats: () => ['--nats', `nats://admin:${nats!.adminPassword}@127.0.0.1:${nats!.port}`],
  };

  describe.each(Object.keys(TRANSPORTS) as (keyof typeof TRANSPORTS)[])('over %s', (transport) => {
    const via = (args: string[]) => [...TRANSPORTS[transport](), ...args];
    const name = `cli_${transport}_ev`;

    it('adds, lists, tests and removes a server', async () => {
      const added = await cli(via(['servers', 'add', name, '--upstream', upstream.url, '--transport', 'http', '--json']));
      expect(added.code, added.stderr).toBe(0);
      expect(added.json).toMatchObject({ server_name: name, url: upstream.url, transport: 'http' });

      const listed = await cli(via(['servers', 'list', '--json']));
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.json.servers.map((s: { server_name: string }) => s.server_name)).toContain(name);

      const table = await cli(via(['servers', 'list']));
      expect(table.stdout).toMatch(new RegExp(`^${name}\\s+http\\s+${upstream.url.replace(/[.:/]/g, '\\$&')}`, 'm'));

      const tested = await cli(via(['servers', 'test', name, '--json']));
      expect(tested.code, tested.stderr).toBe(0);
      expect(tested.json).toMatchObject({ server_name: name, status: 'healthy', error: null });
      expect(tested.json.tools).toContain('echo');

      const removed = await cli(via(['servers', 'remove', name, '--json']));
      expect(removed.code, removed.stderr).toBe(0);
      expect(removed.json).toMatchObject({ server_name: name, deleted: true });
      const after = await cli(via(['servers', 'list', '--json']));
      expect(after.json.servers.map((s: { server_name: string }) => s.server_name)).not.toContain(name);

      const gone = await cli(via(['servers', 'test', name, '--json']));
      expect(gone.code).toBe(4);
      expect(gone.json.error.code).toBe('NOT_FOUND');
    });

    it('fails a server test with exit 1 when the upstream does not answer', async () => {
      const added = await cli(via(['servers', 'add', `${name}_down`, '--upstream', 'http://127.0.0.1:9/mcp', '--transport', 'http', '--upstream-timeout', '2', '--json']));
      expect(added.code, added.stderr).toBe(0);
      const tested = await cli(via(['servers', 'test', `${name}_down`, '--json']));
      expect(tested.code).toBe(1);
      expect(tested.json).toMatchObject({ status: 'unhealthy' });
      expect(tested.json.error).toBeTruthy();
      await cli(via(['servers', 'remove', `${name}_down`]));
    });

    it('creates and deletes a key', async () => {
      const alias = `cli-${transport}-key`;
      const created = await cli(via(['keys', 'create', '--alias', alias, '--duration', '1h', '--json']));
      expect(created.code, created.stderr).toBe(0);
      expect(created.json.key).toMatch(/^sk-/);
      expect(created.json.key_alias).toBe(alias);

      const deleted = await cli(via(['keys', 'delete', alias, '--json']));
      expect(deleted.code, deleted.stderr).toBe(0);
      expect(deleted.json.deleted_keys).toEqual([created.json.token]);

      const again = await cli(via(['keys', 'delete', alias, '--json']));
      expect(again.code).toBe(4);
    });

    it("lists a user's upstream grants, and says why one cannot be revoked", async () => {
      const none = await cli(via(['grants', 'list', '--user', 'nobody-in-particular', '--json']));
      expect(none.code, none.stderr).toBe(0);
      expect(none.json).toEqual({ grants: [] });
      expect((await cli(via(['grants', 'list', '--user', 'nobody-in-particular']))).stdout).toBe('(none)\n');
      // not a per-user OAuth server: 2; no such server: 4; no --user: usage
      const added = await cli(via(['servers', 'add', `${name}_plain`, '--upstream', upstream.url, '--transport', 'http']));
      expect(added.code, added.stderr).toBe(0);
      const plain = await cli(via(['grants', 'revoke', `${name}_plain`, '--user', 'alice', '--json']));
      expect(plain.code).toBe(2);
      expect(plain.json.error.message).toMatch(/does not use per-user OAuth/);
      expect((await cli(via(['grants', 'revoke', 'no_such_server', '--user', 'alice']))).code).toBe(4);
      expect((await cli(via(['grants', 'revoke', `${name}_plain`]))).code).toBe(2);
      await cli(via(['servers', 'remove', `${name}_plain`]));
    });

    it('exits 2 with a message naming the field on bad input', async () => {
      const badName = await cli(via(['servers', 'add', 'Not-A-Name', '--upstream', upstream.url]));
      expect(badName.code).toBe(2);
      expect(badName.stderr).toMatch(/^switchboard: server_name: /m);

      const badUrl = await cli(via(['servers', 'add', `${name}_bad`, '--upstream', 'ftp://example.com/mcp', '--json']));
      expect(badUrl.code).toBe(2);
      expect(badUrl.json.error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^url: /) });

      const badDuration = await cli(via(['keys', 'create', '--duration', 'forever']));
      expect(badDuration.code).toBe(2);
      expect(badDuration.stderr).toMatch(/duration: expected a duration/);

      const badFlag = await cli(via(['keys', 'create', '--rpm', 'many']));
      expect(badFlag.code).toBe(2);
      expect(badFlag.stderr).toMatch(/--rpm: expected a whole number/);

      const unknownCommand = await cli(via(['servers', 'explode']));
      expect(unknownCommand.code).toBe(2);
      expect(unknownCommand.stderr).toMatch(/unknown command "servers explode"/);
    });

    it('exits 3 on a wrong key and never prints it', async () => {
      const wrongKey = 'sk-wrong-key-for-this-gateway-123456789';
      const refused = await cli(via(['servers', 'list', '--json']), { SWITCHBOARD_KEY: wrongKey });
      expect(refused.code).toBe(3);
      expect(refused.json.error.code).toBe('UNAUTHENTICATED');
      expect(refused.stderr).toMatch(/^switchboard: /);
      expect(refused.stdout + refused.stderr).not.toContain(wrongKey);

      const flag = await cli(via(['keys', 'list', '--key', wrongKey]), { SWITCHBOARD_KEY: '' });
      expect(flag.code).toBe(3);
      expect(flag.stdout + flag.stderr).not.toContain(wrongKey);

      const none = await cli(via(['keys', 'list']), { SWITCHBOARD_KEY: '' });
      expect(none.code).toBe(3);
      expect(none.stderr).toMatch(/no key: set SWITCHBOARD_KEY or pass --key/);
    });
  });

  it('never printed the master key', () => {
    expect(outputs.length).toBeGreaterThan(10);
    for (const text of outputs) expect(text).not.toContain(suite!.masterKey);
  });
});
