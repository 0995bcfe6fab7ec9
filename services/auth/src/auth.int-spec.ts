import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { NatsBus, RpcHandler, startBusService } from '#libs/bus';
import {
  DeleteKeys,
  DeleteOrganizations,
  DeleteTeams,
  DomainError,
  GenerateKey,
  GetKeyInfo,
  GetOrganizationInfo,
  GetTeamInfo,
  KeysChanged,
  ListKeys,
  ListServers,
  ListOrganizations,
  ListTeams,
  NewOrganization,
  NewTeam,
  QueryAudit,
  UpdateKey,
  UpdateOrganization,
  UpdateTeam,
  VerifyKey,
  WriteAudit,
  pingContract,
  type AuditRecord,
  type KeysChangedPayload,
  type McpServerView,
} from '#libs/contracts';
import { JsonLogger } from '#libs/observability';
import { TEST_DATABASE_KINDS, TEST_NATS_URL, openTestDatabase, testNamespace, uniqueId, waitFor, type TestDatabase } from '#libs/testing';
import { AuthModule } from './auth.module.js';
import { openAuthDatabase } from './database/auth-database.js';
import { hashKey } from './keys/key-material.js';

const MASTER = 'sk-master-int-spec';
const T = { timeoutMs: 5000 };

/** The registry as auth asks it which servers and access groups exist (object_permission must name known ones). */
const server = (server_name: string, access_groups: string[]): McpServerView => ({
  server_id: `00000000-0000-4000-8000-00000000000${server_name.length}`,
  server_name,
  alias: null,
  description: null,
  url: 'https://upstream.example/mcp',
  transport: 'http',
  command: null,
  args: [],
  env: {},
  auth_type: 'none',
  auth_value: null,
  static_headers: {},
  extra_headers: [],
  allowed_tools: null,
  disallowed_tools: null,
  access_groups,
  mcp_access_groups: access_groups,
  allow_all_keys: false,
  timeout: null,
  max_concurrent_requests: null,
  spec_version: null,
  source: 'config',
  created_at: new Date(0).toISOString(),
  updated_at: new Date(0).toISOString(),
});
@Controller()
class StubRegistry {
  @RpcHandler(ListServers)
  list() {
    return { servers: [server('github', ['dev_tools']), server('jira', [])] };
  }
}
@Module({ controllers: [StubRegistry] })
class StubRegistryModule {}

async function errorOf(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe.each(TEST_DATABASE_KINDS)('auth service (real NATS, database: %s)', (kind) => {
  let database: TestDatabase;
  const namespace = testNamespace();
  let dataSource: DataSource;
  let serverBus: NatsBus;
  let replicaBus: NatsBus;
  let bus: NatsBus;
  let app: INestMicroservice;
  let replica: INestMicroservice;
  let registry: INestMicroservice;
  const changes: KeysChangedPayload[] = [];
  const perm = (servers: string[], groups: string[] = [], tools: Record<string, string[]> = {}) => ({
    mcp_servers: servers,
    mcp_access_groups: groups,
    mcp_tool_permissions: tools,
  });

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    dataSource = await openAuthDatabase(database.target);
    serverBus = await NatsBus.connect({ url: TEST_NATS_URL, namespace });
    replicaBus = await NatsBus.connect({ url: TEST_NATS_URL, namespace });
    bus = await NatsBus.connect({ url: TEST_NATS_URL, namespace });
    const logger = new JsonLogger('auth', 'error');
    registry = await startBusService({ module: { module: StubRegistryModule }, bus, queueGroup: 'registry', logger });
    app = await startBusService({ module: AuthModule.register({ bus: serverBus, dataSource, masterKey: MASTER }), bus: serverBus, queueGroup: 'auth', logger });
    // a second replica on the same database: queue groups must make each request and audit batch land once
    replica = await startBusService({ module: AuthModule.register({ bus: replicaBus, dataSource, masterKey: MASTER }), bus: replicaBus, queueGroup: 'auth', logger });
    bus.subscribe(KeysChanged, (p) => void changes.push(p));
    await bus.flush();
  });

  afterAll(async () => {
    await app?.close();
    await replica?.close();
    await registry?.close();
    await Promise.all([serverBus?.close(), replicaBus?.close(), bus?.close()]);
    await dataSource?.destroy();
    await database?.close();
  });

  const changesFor = (hash: string) => changes.filter((c) => c.token_hashes.includes(hash));

  it('answers its ping with bus and postgres checks', async () => {
    expect(await bus.call(pingContract('auth'), {}, T)).toEqual({ service: 'auth', checks: { bus: true, postgres: true } });
  });

  it('verifies the master key as kind master', async () => {
    expect(await bus.call(VerifyKey, { key: MASTER }, T)).toMatchObject({ kind: 'master', is_admin: true });
  });

  it('generate → verify → update → delete, publishing KeysChanged', async () => {
    const org = await bus.call(NewOrganization, { organization_alias: uniqueId('org'), object_permission: perm([], ['dev_tools']), rpm_limit: 1000 }, T);
    const team = await bus.call(NewTeam, { team_alias: uniqueId('team'), organization_id: org.organization_id, object_permission: perm(['github', 'jira']), rpm_limit: 100 }, T);
    const alias = uniqueId('key');
    const created = await bus.call(
      GenerateKey,
      { key_alias: alias, team_id: team.team_id, duration: '30d', rpm_limit: 10, max_parallel_requests: 2, object_permission: perm(['github'], [], { github: ['list_issues'] }), metadata: { owner: 'a' } },
      T,
    );
    expect(created.key).toMatch(/^sk-[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({ token: hashKey(created.key), key_alias: alias, team_id: team.team_id, organization_id: org.organization_id, key_name: `sk-...${created.key.slice(-4)}` });
    expect(Date.parse(created.expires!) - Date.now()).toBeGreaterThan(29 * 86_400_000);

    const [stored] = await dataSource.query(`SELECT * FROM keys WHERE token_hash = $1`, [created.token]);
    expect(JSON.stringify(stored)).not.toContain(created.key);

    const principal = await bus.call(VerifyKey, { key: created.key }, T);
    expect(principal).toMatchObject({
      kind: 'virtual',
      token_hash: created.token,
      team_id: team.team_id,
      organization_id: org.organization_id,
      rpm_limit: 10,
      team_rpm_limit: 100,
      organization_rpm_limit: 1000,
      levels: { key: perm(['github'], [], { github: ['list_issues'] }), team: perm(['github', 'jira']), organization: perm([], ['dev_tools']) },
    });

    // the key can be named by the key, its hash or its alias
    for (const ref of [created.key, created.token, alias]) expect((await bus.call(GetKeyInfo, { key: ref }, T)).key).toBe(created.token);

    const updated = await bus.call(UpdateKey, { key: alias, rpm_limit: 20, object_permission: null }, T);
    expect(updated).toMatchObject({ rpm_limit: 20, object_permission: null });
    await waitFor(() => changesFor(created.token).some((c) => c.reason === 'updated'), 1000);
    expect((await bus.call(VerifyKey, { key: created.key }, T)).levels.key).toBeNull();

    await bus.call(UpdateKey, { key: created.token, blocked: true }, T);
    await waitFor(() => changesFor(created.token).some((c) => c.reason === 'blocked'), 1000);
    expect((await errorOf(bus.call(VerifyKey, { key: created.key }, T))).details).toEqual({ reason: 'blocked' });
    await bus.call(UpdateKey, { key: created.token, blocked: false }, T);

    // team and organization changes name every key of theirs
    await bus.call(UpdateTeam, { team_id: team.team_id, object_permission: perm(['github']) }, T);
    await waitFor(() => changesFor(created.token).some((c) => c.reason === 'team'), 1000);
    await bus.call(UpdateOrganization, { organization_id: org.organization_id, object_permission: null }, T);
    await waitFor(() => changesFor(created.token).some((c) => c.reason === 'organization'), 1000);
    expect((await bus.call(VerifyKey, { key: created.key }, T)).levels).toEqual({ key: null, team: perm(['github']), organization: null });

    expect(await bus.call(DeleteKeys, { keys: [created.key] }, T)).toEqual({ deleted_keys: [created.token] });
    await waitFor(() => changesFor(created.token).some((c) => c.reason === 'deleted'), 1000);
    const gone = await errorOf(bus.call(VerifyKey, { key: created.key }, T));
    expect(gone).toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'unknown_key' } });
  });

  it('refuses unknown, expired and team-blocked keys as UNAUTHENTICATED', async () => {
    expect((await errorOf(bus.call(VerifyKey, { key: 'sk-neverissuedneverissuedneverissued' }, T))).details).toEqual({ reason: 'unknown_key' });
    const expired = await bus.call(GenerateKey, { duration: '0s' }, T);
    expect((await errorOf(bus.call(VerifyKey, { key: expired.key }, T))).details).toEqual({ reason: 'expired' });
    const team = await bus.call(NewTeam, { blocked: true }, T);
    const inBlockedTeam = await bus.call(GenerateKey, { team_id: team.team_id }, T);
    expect((await errorOf(bus.call(VerifyKey, { key: inBlockedTeam.key }, T))).details).toEqual({ reason: 'team_blocked' });
  });

  it('refuses bad input with the right code, naming the field, and writes nothing', async () => {
    const count = async () => Number((await dataSource.query(`SELECT (SELECT count(*) FROM keys) + (SELECT count(*) FROM teams) + (SELECT count(*) FROM organizations) AS n`))[0].n);
    const before = await count();

    expect(await errorOf(bus.call(GenerateKey, { team_id: 'no-such-team' }, T))).toMatchObject({ code: 'NOT_FOUND', details: { field: 'team_id' } });
    expect(await errorOf(bus.call(NewTeam, { organization_id: 'no-such-org' }, T))).toMatchObject({ code: 'NOT_FOUND', details: { field: 'organization_id' } });

    // a malformed object_permission reaches the service raw (Bus.call would refuse it before sending)
    const raw = await bus.connection.request(
      bus.subject(GenerateKey.subject),
      JSON.stringify({ meta: {}, data: { object_permission: { mcp_server: ['github'] } } }),
      { timeout: 5000 },
    );
    const reply = raw.json<{ ok: boolean; error: { code: string; message: string } }>();
    expect(reply.ok).toBe(false);
    expect(reply.error.code).toBe('INVALID_ARGUMENT');
    expect(reply.error.message).toContain('object_permission');
    expect(reply.error.message).toContain('mcp_server');

    const alias = uniqueId('dup');
    await bus.call(GenerateKey, { key_alias: alias }, T);
    const afterFirst = await count();
    expect(await errorOf(bus.call(GenerateKey, { key_alias: alias }, T))).toMatchObject({ code: 'CONFLICT', details: { field: 'key_alias' } });
    const teamAlias = uniqueId('dupteam');
    await bus.call(NewTeam, { team_alias: teamAlias }, T);
    expect(await errorOf(bus.call(NewTeam, { team_alias: teamAlias }, T))).toMatchObject({ code: 'CONFLICT', details: { field: 'team_alias' } });
    const orgAlias = uniqueId('duporg');
    await bus.call(NewOrganization, { organization_alias: orgAlias }, T);
    expect(await errorOf(bus.call(NewOrganization, { organization_alias: orgAlias }, T))).toMatchObject({ code: 'CONFLICT', details: { field: 'organization_alias' } });
    expect(await count()).toBe(afterFirst + 2);
    expect(afterFirst).toBe(before + 1);

    // an update that fails halfway changes nothing
    const other = await bus.call(GenerateKey, { key_alias: uniqueId('other'), rpm_limit: 1 }, T);
    expect(await errorOf(bus.call(UpdateKey, { key: other.token, rpm_limit: 99, team_id: 'no-such-team' }, T))).toMatchObject({ code: 'NOT_FOUND' });
    expect((await bus.call(GetKeyInfo, { key: other.token }, T)).info.rpm_limit).toBe(1);
    // deleting a known and an unknown key deletes neither
    expect(await errorOf(bus.call(DeleteKeys, { keys: [other.key, 'sk-unknownunknownunknownunknown'] }, T))).toMatchObject({ code: 'NOT_FOUND', details: { field: 'keys' } });
    expect((await bus.call(GetKeyInfo, { key: other.token }, T)).key).toBe(other.token);
  });

  it('refuses object_permission naming a server or access group the registry does not know, on create and update, and writes nothing', async () => {
    const count = async () => Number((await dataSource.query(`SELECT (SELECT count(*) FROM keys) + (SELECT count(*) FROM teams) + (SELECT count(*) FROM organizations) AS n`))[0].n);
    const before = await count();
    expect(await errorOf(bus.call(GenerateKey, { object_permission: perm(['github', 'gitlab']) }, T))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'object_permission.mcp_servers: no MCP server "gitlab"',
      details: { field: 'object_permission.mcp_servers', value: 'gitlab' },
    });
    expect((await errorOf(bus.call(NewTeam, { object_permission: perm([], ['dev_tools', 'ops_tools']) }, T))).message).toBe(
      'object_permission.mcp_access_groups: no MCP server is in access group "ops_tools"',
    );
    expect((await errorOf(bus.call(NewOrganization, { organization_alias: uniqueId('org'), object_permission: perm([], [], { confluence: ['search'] }) }, T))).message).toBe(
      'object_permission.mcp_tool_permissions: no MCP server "confluence"',
    );
    expect(await count()).toBe(before);

    const key = await bus.call(GenerateKey, { object_permission: perm(['jira', server('github', []).server_id], ['dev_tools']) }, T);
    const team = await bus.call(NewTeam, {}, T);
    const org = await bus.call(NewOrganization, { organization_alias: uniqueId('org') }, T);
    await errorOf(bus.call(UpdateKey, { key: key.token, object_permission: perm(['gitlab']) }, T));
    await errorOf(bus.call(UpdateTeam, { team_id: team.team_id, object_permission: perm(['gitlab']) }, T));
    await errorOf(bus.call(UpdateOrganization, { organization_id: org.organization_id, object_permission: perm(['gitlab']) }, T));
    expect((await bus.call(GetKeyInfo, { key: key.token }, T)).info.object_permission).toEqual(perm(['jira', server('github', []).server_id], ['dev_tools']));
    expect((await bus.call(GetTeamInfo, { team_id: team.team_id }, T)).team_info.object_permission).toBeNull();
  });

  it('refuses to delete a team with keys or an organization with teams', async () => {
    const org = await bus.call(NewOrganization, { organization_alias: uniqueId('org') }, T);
    const team = await bus.call(NewTeam, { organization_id: org.organization_id }, T);
    const key = await bus.call(GenerateKey, { team_id: team.team_id }, T);
    expect(await errorOf(bus.call(DeleteTeams, { team_ids: [team.team_id] }, T))).toMatchObject({ code: 'CONFLICT', details: { key_count: 1 } });
    expect(await errorOf(bus.call(DeleteOrganizations, { organization_ids: [org.organization_id] }, T))).toMatchObject({ code: 'CONFLICT', details: { team_count: 1 } });

    const info = await bus.call(GetTeamInfo, { team_id: team.team_id }, T);
    expect(info.keys.map((k) => k.token)).toEqual([key.token]);
    expect((await bus.call(GetOrganizationInfo, { organization_id: org.organization_id }, T)).teams.map((t) => t.team_id)).toEqual([team.team_id]);
    expect((await bus.call(ListTeams, { organization_id: org.organization_id }, T)).teams).toHaveLength(1);
    expect((await bus.call(ListOrganizations, {}, T)).organizations.some((o) => o.organization_id === org.organization_id)).toBe(true);

    await bus.call(DeleteKeys, { keys: [key.token] }, T);
    expect(await bus.call(DeleteTeams, { team_ids: [team.team_id] }, T)).toEqual({ deleted_teams: [team.team_id] });
    expect(await bus.call(DeleteOrganizations, { organization_ids: [org.organization_id] }, T)).toEqual({ deleted_organizations: [org.organization_id] });
    expect(await errorOf(bus.call(GetTeamInfo, { team_id: team.team_id }, T))).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('lists keys in pages, with filters', async () => {
    const team = await bus.call(NewTeam, {}, T);
    const tokens = [];
    for (let i = 0; i < 5; i++) tokens.push((await bus.call(GenerateKey, { team_id: team.team_id }, T)).token);
    const first = await bus.call(ListKeys, { team_id: team.team_id, page: 1, size: 2 }, T);
    expect(first).toMatchObject({ total_count: 5, current_page: 1, total_pages: 3 });
    const third = await bus.call(ListKeys, { team_id: team.team_id, page: 3, size: 2, return_full_object: true }, T);
    expect(third.keys).toHaveLength(1);
    expect(third.keys[0]).toMatchObject({ team_id: team.team_id });
    const all = [...first.keys, ...(await bus.call(ListKeys, { team_id: team.team_id, page: 2, size: 2 }, T)).keys, (third.keys[0] as { token: string }).token];
    expect(new Set(all)).toEqual(new Set(tokens));
  });

  it('stores each audit batch once across replicas and answers queries with filters and paging', async () => {
    const session = uniqueId('sess');
    const base = Date.parse('2026-03-01T00:00:00Z');
    const records: AuditRecord[] = Array.from({ length: 40 }, (_, i) => ({
      time: new Date(base + i * 1000).toISOString(),
      key_alias: i % 2 === 0 ? 'even' : 'odd',
      token_hash_prefix: 'abcdef01',
      team_id: i < 10 ? 'team-a' : 'team-b',
      organization_id: 'org-x',
      server_name: i % 4 === 0 ? 'github' : 'deepwiki',
      tool: `tool_${i % 3}`,
      status: i % 5 === 0 ? 'error' : 'success',
      duration_ms: i,
      error_code: i % 5 === 0 ? 'UPSTREAM_TIMEOUT' : null,
      session_id: session,
    }));
    const batches = Array.from({ length: records.length / 4 }, (_, i) => records.slice(i * 4, i * 4 + 4));
    expect(await Promise.all(batches.map((batch) => bus.call(WriteAudit, batch, T)))).toEqual(batches.map(() => ({ accepted: 4 })));
    const all = await waitFor(async () => {
      const r = await bus.call(QueryAudit, { session_id: session, page_size: 500 }, T);
      return r.total >= 40 ? r : null;
    }, 3000);
    await new Promise((r) => setTimeout(r, 400)); // a duplicate would have been flushed by now
    expect((await bus.call(QueryAudit, { session_id: session }, T)).total).toBe(40);
    expect(all.rows[0]!.time).toBe(records[39]!.time); // newest first

    const errors = await bus.call(QueryAudit, { session_id: session, status: 'error', team_id: 'team-b' }, T);
    expect(errors.total).toBe(6);
    expect(errors.rows.every((r) => r.status === 'error' && r.team_id === 'team-b' && r.error_code === 'UPSTREAM_TIMEOUT')).toBe(true);

    const github = await bus.call(QueryAudit, { session_id: session, server_name: 'github', key_alias: 'even', tool: 'tool_0' }, T);
    expect(github.rows.map((r) => r.duration_ms).sort((a, b) => a - b)).toEqual([0, 12, 24, 36]);

    const window = await bus.call(QueryAudit, { session_id: session, since: new Date(base + 10_000).toISOString(), until: new Date(base + 20_000).toISOString() }, T);
    expect(window.total).toBe(10);

    const page2 = await bus.call(QueryAudit, { session_id: session, page: 2, page_size: 15 }, T);
    expect(page2).toMatchObject({ total: 40, page: 2, page_size: 15 });
    expect(page2.rows.map((r) => r.duration_ms)).toEqual(Array.from({ length: 15 }, (_, i) => 24 - i));
  });
});
