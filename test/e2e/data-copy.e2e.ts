import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/lib/suite.mjs';
import { api, connectClient, eventually, startEverything, startSuite, textOf, toolNames, type Suite } from './support/index.js';

// Issue 6, done means 6: a user grows from the one-process default to the distributed suite without losing data.
// What was created in an embedded data folder is copied into a fresh Postgres database with `npm run data -- copy`,
// and the distributed suite started on that database serves it: the key still authenticates.

const PG_BASE = 'postgres://postgres@127.0.0.1:5432';
const database = `sb_e2e_copy_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const cleanups: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: `${PG_BASE}/postgres` });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).finally(() => client.end());
});

describe('growing: embedded data copied to Postgres', () => {
  it('moves a key, a team and a server, and a distributed start on the copy serves them', { timeout: 240_000 }, async () => {
    const everything = await startEverything('streamableHttp');
    cleanups.push(() => everything.stop());
    const config = { mcp_servers: {} };

    // 1. the one-process default: a team, a key in it, a server the team may use
    let embedded: Suite | undefined = await startSuite({ mode: 'one-process', config });
    cleanups.push(() => embedded?.stop() ?? Promise.resolve());
    const base = embedded.edgeUrls[0]!;
    const master = embedded.masterKey;
    // an auth value, so that the copy's credentials must decrypt with the data folder's key on the other side
    await api(base, master, '/v1/mcp/server', { server_name: 'ev_copy', url: everything.url, transport: 'http', auth_type: 'bearer_token', auth_value: 'upstream-secret-1234' });
    const team = await api(base, master, '/team/new', { team_alias: 'copied-team', object_permission: { mcp_servers: ['ev_copy'] } });
    const { key } = await api(base, master, '/key/generate', { key_alias: 'copied-key', team_id: team.team_id });
    const before = await connectClient(`${base}/mcp`, key);
    await eventually(async () => (await toolNames(before)).includes('ev_copy-echo'), 20_000);
    await before.close();
    const dataDir = embedded.dataDir!;
    // keep the folder, stop the process: the copy reads a folder no gateway has open
    await embedded.processes.get('one-process')!.at(-1)!.stop();

    // 2. npm run data -- copy
    const copy = spawnSync(process.execPath, ['scripts/data.mjs', 'copy', '--from', dataDir, '--to', `${PG_BASE}/${database}`], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(copy.status, `${copy.stdout}\n${copy.stderr}`).toBe(0);
    expect(copy.stdout + copy.stderr).toMatch(/keys/);
    const saltKey = readFileSync(join(dataDir, 'salt.key'), 'utf8').trim();
    await embedded.stop();
    embedded = undefined;

    // 3. the distributed suite on the copy, with the data folder's key for upstream credentials
    const distributed = await startSuite({ mode: 'distributed', config, masterKey: master, env: { DATABASE_URL: `${PG_BASE}/${database}`, SWITCHBOARD_SALT_KEY: saltKey } });
    cleanups.push(() => distributed.stop());
    const url = distributed.edgeUrls[0]!;
    const servers = await api<{ server_name: string }[]>(url, master, '/v1/mcp/server');
    expect(servers.map((s) => s.server_name)).toContain('ev_copy');
    const teams = await api<{ team_alias: string }[] | { teams: { team_alias: string }[] }>(url, master, '/team/list');
    expect(JSON.stringify(teams)).toContain('copied-team');
    const after = await connectClient(`${url}/mcp`, key);
    await eventually(async () => (await toolNames(after)).includes('ev_copy-echo'), 20_000);
    expect(textOf(await after.callTool({ name: 'ev_copy-echo', arguments: { message: 'copied' } }))).toBe('Echo: copied');
    await after.close();
  });
});
