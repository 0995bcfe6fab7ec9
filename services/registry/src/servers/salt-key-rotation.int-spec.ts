import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { McpServerSpec } from '#libs/contracts';
import { openEmbeddedDatabase } from '#libs/database';
import { dropTestDatabase, testDatabaseUrl } from '#libs/testing';
import { openRegistryDatabase } from '../database.js';
import { CredentialCipher } from './credential-cipher.js';
import { runRotateSaltKey } from './salt-key-rotation.js';
import { resolveSaltKey } from './salt-key.js';
import { definitionFromSpec } from './server-definition.js';
import { ServerRepository } from './server.repository.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const SECRET = 'ghp_rotated_secret_9876';
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const spec = () =>
  McpServerSpec.parse({ url: 'https://github.example/mcp', transport: 'http', auth_type: 'bearer_token', auth_value: SECRET });
const stdioSpec = () => McpServerSpec.parse({ transport: 'stdio', command: 'node', args: ['x.js'], env: { TOKEN: 'env-secret' } });

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const stream = (into: string[]) => ({ write: (chunk: string) => into.push(chunk) }) as unknown as NodeJS.WritableStream;
  return { out, err, io: (env: Record<string, string | undefined>) => ({ stdout: stream(out), stderr: stream(err), env }) };
}

describe('npm run data -- rotate-salt-key', () => {
  it('re-encrypts every credential in Postgres with the new key in one transaction, and refuses a wrong current key', async () => {
    const url = testDatabaseUrl();
    cleanups.push(() => dropTestDatabase(url));
    const ds = await openRegistryDatabase({ kind: 'postgres', url });
    await new ServerRepository(ds, new CredentialCipher('old-key')).insert(definitionFromSpec('github', spec()), 'api');
    await new ServerRepository(ds, new CredentialCipher('old-key')).insert(definitionFromSpec('local', stdioSpec()), 'api');
    await new ServerRepository(ds, new CredentialCipher('old-key')).insert(definitionFromSpec('plain', McpServerSpec.parse({ url: 'https://plain.example/mcp' })), 'api');
    const before = await ds.query('SELECT server_name, auth_value, env FROM mcp_servers ORDER BY server_name');

    const wrong = capture();
    expect(await runRotateSaltKey(['--database', url], wrong.io({ SWITCHBOARD_SALT_KEY: 'not-the-key', SWITCHBOARD_NEW_SALT_KEY: 'new-key' }))).toBe(1);
    expect(wrong.err.join('')).toMatch(/cannot decrypt the credentials of server (github|local): nothing was changed/);
    expect(await ds.query('SELECT server_name, auth_value, env FROM mcp_servers ORDER BY server_name')).toEqual(before);

    const noNewKey = capture();
    expect(await runRotateSaltKey(['--database', url], noNewKey.io({ SWITCHBOARD_SALT_KEY: 'old-key' }))).toBe(1);
    expect(noNewKey.err.join('')).toMatch(/SWITCHBOARD_NEW_SALT_KEY/);

    const ok = capture();
    expect(await runRotateSaltKey(['--database', url], ok.io({ SWITCHBOARD_SALT_KEY: 'old-key', SWITCHBOARD_NEW_SALT_KEY: 'new-key' }))).toBe(0);
    expect(ok.out.join('')).toMatch(/re-encrypted the credentials of 2 server\(s\)/);
    expect(ok.out.join('') + ok.err.join('')).not.toMatch(/old-key|new-key/); // keys are never printed

    const repository = new ServerRepository(ds, new CredentialCipher('new-key'));
    expect((await repository.findByRef('github'))?.auth_value).toBe(SECRET);
    expect((await repository.findByRef('local'))?.env).toEqual({ TOKEN: 'env-secret' });
    await expect(new ServerRepository(ds, new CredentialCipher('old-key')).findByRef('github')).rejects.toThrow(/cannot decrypt/);
    await ds.destroy();
  });

  it('rotates an embedded data folder through the CLI: a new salt.key, the credentials readable with it only', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-rotate-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    let embedded = await openEmbeddedDatabase(dir);
    const oldKey = resolveSaltKey(undefined, embedded.target).material;
    let ds = await openRegistryDatabase(embedded.target);
    await new ServerRepository(ds, new CredentialCipher(oldKey)).insert(definitionFromSpec('github', spec()), 'api');
    await ds.destroy();
    await embedded.close();

    const env = { ...process.env };
    for (const name of ['SWITCHBOARD_SALT_KEY', 'SWITCHBOARD_NEW_SALT_KEY', 'DATABASE_URL', 'SWITCHBOARD_DATA_DIR']) delete env[name];
    const cli = spawnSync(process.execPath, ['scripts/data.mjs', 'rotate-salt-key', '--data-dir', dir], { cwd: ROOT, env, encoding: 'utf8', timeout: 100_000 });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/re-encrypted the credentials of 1 server\(s\)/);
    const newKey = readFileSync(join(dir, 'salt.key'), 'utf8').trim();
    expect(newKey).not.toBe(oldKey);
    expect(cli.stdout + cli.stderr).not.toContain(newKey);

    embedded = await openEmbeddedDatabase(dir);
    ds = await openRegistryDatabase(embedded.target);
    expect((await new ServerRepository(ds, new CredentialCipher(newKey)).findByRef('github'))?.auth_value).toBe(SECRET);
    await ds.destroy();
    await embedded.close();
  });
});
