import { spawn } from 'node:child_process';
import { NestFactory } from '@nestjs/core';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessBus } from '#libs/bus';
import { GenerateKeyRequest, McpServerSpec, NewOrganizationRequest, NewTeamRequest, type AuditRecord } from '#libs/contracts';
import { openEmbeddedDatabase, type DatabaseTarget, type ServiceData } from '#libs/database';
import { dropTestDatabase, testDatabaseUrl } from '#libs/testing';
import { AuditRepository } from '../services/auth/src/audit/audit.repository.js';
import { AuthModule } from '../services/auth/src/auth.module.js';
import { AUTH_DATA } from '../services/auth/src/database/auth-database.js';
import { KeysService } from '../services/auth/src/keys/keys.service.js';
import { OrganizationsService } from '../services/auth/src/organizations/organizations.service.js';
import { TeamsService } from '../services/auth/src/teams/teams.service.js';
import { REGISTRY_DATA } from '../services/registry/src/database.js';
import { CredentialCipher } from '../services/registry/src/servers/credential-cipher.js';
import { definitionFromSpec } from '../services/registry/src/servers/server-definition.js';
import { ServerRepository } from '../services/registry/src/servers/server.repository.js';
import { build, needsBuild } from './lib/build.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SECRET = 'ghp_copied_secret_4321';
const cipher = new CredentialCipher('data-copy-test-key');
const SERVICES = [AUTH_DATA, REGISTRY_DATA];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The command's own lines on stderr (without any build output, when sources changed since the last build). */
  said: string[];
}

/** Runs `node scripts/data.mjs …` (or `npm run data -- …`) as a child process, standard input from a file if given. */
function run(args: string[], options: { stdinFile?: string; viaNpm?: boolean } = {}): Promise<Run> {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.SWITCHBOARD_DATA_DIR;
  const child = options.viaNpm
    ? spawn('npm', ['run', 'data', '--', ...args], { cwd: ROOT, env })
    : spawn(process.execPath, [join(ROOT, 'scripts/data.mjs'), ...args], { cwd: ROOT, env });
  if (options.stdinFile) child.stdin.end(readFileSync(options.stdinFile));
  else child.stdin.end();
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr, said: stderr.split('\n').filter((line) => line.startsWith('switchboard data:')) })));
}

/** Every row of every table, as Postgres renders it to JSON (microseconds, jsonb, bigint ids), in key order. */
async function snapshot(target: DatabaseTarget): Promise<Record<string, unknown[]>> {
  const rows: Record<string, unknown[]> = {};
  await withDataSources(target, SERVICES, async (opened) => {
    for (const [spec, ds] of opened) {
      for (const { name, key } of spec.tables) {
        rows[`${spec.service}.${name}`] = ((await ds.query(`SELECT to_jsonb(t)::text AS row FROM "${name}" t ORDER BY "${key}"`)) as { row: string }[]).map((r) => JSON.parse(r.row));
      }
    }
  });
  return rows;
}

async function withDataSources<T>(target: DatabaseTarget, specs: ServiceData[], work: (opened: [ServiceData, DataSource][]) => Promise<T>): Promise<T> {
  const opened: [ServiceData, DataSource][] = [];
  try {
    for (const spec of specs) opened.push([spec, await spec.open(target)]);
    return await work(opened);
  } finally {
    for (const [, ds] of opened) await ds.destroy();
  }
}

/** Auth's own services on `ds`, wired by its module (on an in-process bus), for the duration of `work`. */
async function withAuth<T>(ds: DataSource, work: (services: { keys: KeysService; teams: TeamsService; organizations: OrganizationsService; audit: AuditRepository }) => Promise<T>): Promise<T> {
  const bus = new InProcessBus();
  const app = await NestFactory.createApplicationContext(AuthModule.register({ bus, dataSource: ds, masterKey: undefined }), { logger: false });
  try {
    return await work({ keys: app.get(KeysService), teams: app.get(TeamsService), organizations: app.get(OrganizationsService), audit: app.get(AuditRepository) });
  } finally {
    await app.close();
    await bus.close();
  }
}

/** Names nothing (so no registry is asked), yet stored as a jsonb object. */
const PERMISSION = { mcp_servers: [], mcp_access_groups: [], mcp_tool_permissions: {} };

describe('npm run data: from the embedded database to Postgres', () => {
  const folder = mkdtempSync(join(tmpdir(), 'sb-data-copy-'));
  const databases: string[] = [];
  const freshDatabase = () => {
    const url = testDatabaseUrl();
    databases.push(url);
    return url;
  };
  let key: string;
  let source: Record<string, unknown[]>;

  beforeAll(async () => {
    // the command runs from dist/: build it the way `npm start` would (type errors elsewhere still emit JavaScript)
    if (needsBuild(ROOT)) expect([0, 2]).toContain(build(ROOT, { toStderr: true }));

    // fill the embedded folder through the services' own code
    const embedded = await openEmbeddedDatabase(folder);
    try {
      await withDataSources(embedded.target, [AUTH_DATA], async ([[, auth]]) => withAuth(auth!, async (services) => {
        const org = await services.organizations.create(NewOrganizationRequest.parse({ organization_alias: 'acme', rpm_limit: 500, metadata: { tier: 'gold' } }));
        const team = await services.teams.create(NewTeamRequest.parse({ team_alias: 'platform', organization_id: org.organization_id, object_permission: PERMISSION }));
        const generated = await services.keys.generate(
          GenerateKeyRequest.parse({ key_alias: 'ci-bot', team_id: team.team_id, duration: '30d', rpm_limit: 10, object_permission: PERMISSION, metadata: { owner: 'ops' } }),
        );
        key = generated.key;
        const records: AuditRecord[] = Array.from({ length: 5 }, (_, i) => ({
          time: new Date(Date.UTC(2026, 2, 1, 0, 0, i)).toISOString(),
          key_alias: 'ci-bot',
          token_hash_prefix: generated.token.slice(0, 8),
          team_id: team.team_id,
          organization_id: org.organization_id,
          server_name: 'github',
          tool: 'list_issues',
          status: i === 4 ? 'error' : 'success',
          duration_ms: 10 + i,
          error_code: i === 4 ? 'UPSTREAM_TIMEOUT' : null,
          session_id: 'sess-1',
        }));
        await services.audit.insertMany(records);
      }));
      await withDataSources(embedded.target, [REGISTRY_DATA], async ([[, registry]]) => {
        const spec = McpServerSpec.parse({ url: 'https://github.example/mcp', transport: 'http', auth_type: 'bearer_token', auth_value: SECRET, env: { TOKEN: 'env-secret' }, access_groups: ['dev'] });
        await new ServerRepository(registry!, cipher).insert(definitionFromSpec('github', spec), 'api');
      });

      // a second process is refused while this one has the folder open, and told which process holds it
      const refused = await run(['export', '--from', folder]);
      expect(refused.code).toBe(1);
      expect(refused.said).toHaveLength(1);
      expect(refused.said[0]).toContain(`in use by process ${process.pid}`);
      expect(refused.stdout).toBe('');
    } finally {
      await embedded.close();
    }
    const embeddedDb = await openEmbeddedDatabase(folder);
    try {
      source = await snapshot(embeddedDb.target);
    } finally {
      await embeddedDb.close();
    }
    // what the default made: a key, a team, a server with a credential, its audit rows, an organization; no
    // per-user upstream grants or consents (the tables exist and are copied empty)
    const counts = Object.fromEntries(Object.entries(source).map(([table, rows]) => [table, rows.length]));
    expect(Object.values(counts).filter((n) => n > 0)).toEqual([1, 1, 1, 5, 1]);
    expect(Object.entries(counts).filter(([, n]) => n === 0).map(([table]) => table)).toEqual(['registry.mcp_upstream_credentials', 'registry.mcp_upstream_consents']);
  }, 300_000);

  afterAll(async () => {
    rmSync(folder, { recursive: true, force: true });
    for (const url of databases) await dropTestDatabase(url);
  });

  it('copies every row unchanged into a new Postgres database; the key verifies and the credential decrypts there', async () => {
    const url = freshDatabase();
    const copied = await run(['copy', '--from', folder, '--to', url]);
    expect(copied.said).toEqual([]);
    expect(copied.code).toBe(0);
    expect(copied.stdout).toContain('auth.keys: 1');
    expect(copied.stdout).toContain('auth.audit_log: 5');
    expect(copied.stdout).toContain('registry.mcp_servers: 1');

    const target: DatabaseTarget = { kind: 'postgres', url };
    expect(await snapshot(target)).toEqual(source);
    await withDataSources(target, SERVICES, async ([[, auth], [, registry]]) => {
      await withAuth(auth!, async ({ keys }) => {
        expect(await keys.verify(key)).toMatchObject({ kind: 'virtual', key_alias: 'ci-bot', team_alias: 'platform', organization_alias: 'acme', rpm_limit: 10 });
      });
      const server = await new ServerRepository(registry!, cipher).findByRef('github');
      expect(server).toMatchObject({ auth_value: SECRET, env: { TOKEN: 'env-secret' } });
      // the audit log's identity continues after the copied ids
      await new AuditRepository(auth!).insertMany([{ ...(source['auth.audit_log']![0] as AuditRecord), time: new Date().toISOString() }]);
      expect(await auth!.query(`SELECT max(id)::int AS id FROM audit_log`)).toEqual([{ id: 6 }]);
    });

    // the target now holds rows: refused, one line, nothing written
    const again = await run(['copy', '--from', folder, '--to', url]);
    expect(again.code).toBe(1);
    expect(again.said).toHaveLength(1);
    expect(again.said[0]).toMatch(/already holds rows \(auth\.organizations 1, .*auth\.audit_log 6, registry\.mcp_servers 1\); nothing was written: pass --force/);
  });

  it('export | import round trip (through npm run), refusing a target with rows unless --force, which replaces them', async () => {
    const file = join(folder, '..', `${folder.split('/').pop()}-export.json`);
    const exported = await run(['export', '--from', folder], { viaNpm: true });
    expect(exported.code).toBe(0);
    writeFileSync(file, exported.stdout);
    try {
      // a Postgres database that Switchboard already started on: the registry seeded a server from its config
      const url = freshDatabase();
      await withDataSources({ kind: 'postgres', url }, [REGISTRY_DATA], async ([[, registry]]) => {
        await new ServerRepository(registry!, cipher).insert(definitionFromSpec('seeded', McpServerSpec.parse({ url: 'https://seeded.example/mcp' })), 'config');
      });
      const refused = await run(['import', '--to', url], { stdinFile: file });
      expect(refused.code).toBe(1);
      expect(refused.said).toEqual(['switchboard data: the target already holds rows (registry.mcp_servers 1); nothing was written: pass --force to replace them']);
      const untouched = await snapshot({ kind: 'postgres', url });
      expect(Object.entries(untouched).map(([table, rows]) => [table, rows.length])).toEqual([
        ['auth.organizations', 0],
        ['auth.teams', 0],
        ['auth.keys', 0],
        ['auth.audit_log', 0],
        ['registry.mcp_servers', 1],
        ['registry.mcp_upstream_credentials', 0],
        ['registry.mcp_upstream_consents', 0],
      ]);

      const forced = await run(['import', '--to', url, '--force'], { stdinFile: file });
      expect(forced.said).toEqual([]);
      expect(forced.code).toBe(0);
      expect(forced.stdout).toContain('auth.organizations: 1');
      expect(await snapshot({ kind: 'postgres', url })).toEqual(source);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('fails with one line and exit code 1 on bad use', async () => {
    const missing = await run(['copy', '--from', join(folder, 'nothing-here'), '--to', 'postgres://postgres@127.0.0.1:5432/unused']);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.said).toEqual([`switchboard data: there is no embedded database in ${join(folder, 'nothing-here')}`]);
    const unknown = await run(['move']);
    expect(unknown.code).toBe(1);
    expect(unknown.said).toEqual(['switchboard data: unknown command "move" (copy, export or import; see npm run data -- help)']);
  });
});
