import { describe, expect, it, vi } from 'vitest';
import type { Bus } from '#libs/bus';
import { DomainError, GenerateKeyRequest, UpdateKeyRequest, type ObjectPermission } from '#libs/contracts';
import { KnownServers } from '../permissions/known-servers.js';
import type { AuthRepositories, UnitOfWork } from '../database/unit-of-work.js';
import type { KeyEvents } from './key-events.js';
import { hashKey } from './key-material.js';
import type { KeyRecord, PrincipalRecord } from './key.repository.js';
import { KeysService } from './keys.service.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const KEY = 'sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const perm = (servers: string[]): ObjectPermission => ({ mcp_servers: servers, mcp_access_groups: [], mcp_tool_permissions: {} });

function principalRow(overrides: Partial<PrincipalRecord> = {}): PrincipalRecord {
  return {
    token_hash: hashKey(KEY),
    key_alias: 'alice',
    key_name: 'sk-...DEFG',
    team_id: 't1',
    user_id: 'u1',
    expires: null,
    blocked: false,
    metadata: {},
    rpm_limit: 10,
    max_parallel_requests: 2,
    object_permission: perm(['github']),
    models: [],
    is_admin: false,
    created_at: new Date(NOW),
    updated_at: new Date(NOW),
    organization_id: 'o1',
    team_alias: 'team one',
    team_models: [],
    team_permission: perm(['github', 'jira']),
    team_rpm_limit: 100,
    team_max_parallel_requests: null,
    team_blocked: false,
    organization_alias: 'org one',
    organization_permission: null,
    organization_rpm_limit: 1000,
    ...overrides,
  };
}

function setup(row: PrincipalRecord | null = principalRow()) {
  const keys = {
    findPrincipal: vi.fn(async (hash: string) => (row && row.token_hash === hash ? row : null)),
    findByHashesOrAlias: vi.fn(async (hashes: string[], alias: string | null) =>
      row && (hashes.includes(row.token_hash) || alias === row.key_alias) ? [row as KeyRecord] : [],
    ),
    findByAlias: vi.fn(async (alias: string) => (row && row.key_alias === alias ? (row as KeyRecord) : null)),
    existsHash: vi.fn(async () => false),
    get: vi.fn(async () => row as KeyRecord),
    insert: vi.fn(async (_row: unknown) => undefined),
    update: vi.fn(async () => undefined),
    deleteMany: vi.fn(async () => undefined),
  };
  const teams = { get: vi.fn(async (id: string) => (id === 't1' ? { id } : null)) };
  const repos = { keys, teams, organizations: {} } as unknown as AuthRepositories;
  const uow = { read: (fn: (r: AuthRepositories) => unknown) => fn(repos), transaction: (fn: (r: AuthRepositories) => unknown) => fn(repos) } as unknown as UnitOfWork;
  const events = { keysChanged: vi.fn() };
  // the registry knows github and jira
  const registry = { call: vi.fn(async () => ({ servers: ['github', 'jira'].map((n) => ({ server_id: `id-${n}`, server_name: n, access_groups: ['dev'] })) })) };
  const sut = new KeysService(uow, events as unknown as KeyEvents, 'sk-master-secret', () => NOW, new KnownServers(registry as unknown as Bus));
  return { sut, keys, teams, events, registry };
}

async function errorOf(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe('KeysService.verify', () => {
  it('fills the key, team and organization levels from the rows', async () => {
    const { sut } = setup();
    const principal = await sut.verify(KEY);
    expect(principal).toMatchObject({
      kind: 'virtual',
      token_hash: hashKey(KEY),
      key_alias: 'alice',
      team_id: 't1',
      organization_id: 'o1',
      rpm_limit: 10,
      max_parallel_requests: 2,
      team_rpm_limit: 100,
      organization_rpm_limit: 1000,
      is_admin: false,
      levels: { key: perm(['github']), team: perm(['github', 'jira']), organization: null },
    });
  });

  it('answers the master key with kind master, without touching the database', async () => {
    const { sut, keys } = setup();
    expect(await sut.verify('sk-master-secret')).toMatchObject({ kind: 'master', is_admin: true, token_hash: null });
    expect(keys.findPrincipal).not.toHaveBeenCalled();
  });

  it.each([
    ['an unknown key', 'sk-unknownunknownunknownunknown', principalRow(), 'unknown_key'],
    ['a string that is not a key', 'not-a-key', principalRow(), 'unknown_key'],
    ['a blocked key', KEY, principalRow({ blocked: true }), 'blocked'],
    ["a key whose team is blocked", KEY, principalRow({ team_blocked: true }), 'team_blocked'],
    ['an expired key', KEY, principalRow({ expires: new Date(NOW - 1) }), 'expired'],
    ['a key expiring this very moment', KEY, principalRow({ expires: new Date(NOW) }), 'expired'],
  ])('refuses %s as UNAUTHENTICATED', async (_name, key, row, reason) => {
    const { sut } = setup(row);
    const error = await errorOf(sut.verify(key));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.details).toEqual({ reason });
  });

  it('accepts a key that expires later and carries the expiry for the edge', async () => {
    const { sut } = setup(principalRow({ expires: new Date(NOW + 1000) }));
    expect((await sut.verify(KEY)).expires).toBe(new Date(NOW + 1000).toISOString());
  });

  it('finds the key by its token or alias only when asked by reference (explanations), never as a credential', async () => {
    const { sut } = setup();
    for (const ref of [hashKey(KEY), 'alice', KEY]) {
      expect((await sut.verify(ref, true)).levels.key, ref).toEqual(perm(['github']));
    }
    for (const ref of [hashKey(KEY), 'alice']) expect((await errorOf(sut.verify(ref))).details).toEqual({ reason: 'unknown_key' });
    expect((await errorOf(sut.verify('nobody', true))).details).toEqual({ reason: 'unknown_key' });
    const blocked = setup(principalRow({ blocked: true })).sut;
    expect((await errorOf(blocked.verify('alice', true))).details).toEqual({ reason: 'blocked' });
  });

  it('leaves the organization level unset for a key without a team', async () => {
    const { sut } = setup(principalRow({ team_id: null, organization_id: null, team_permission: null, organization_permission: perm([]) }));
    expect((await sut.verify(KEY)).levels).toEqual({ key: perm(['github']), team: null, organization: null });
  });
});

describe('KeysService management', () => {
  it('generates a key, stores only its hash and returns the key once', async () => {
    const { sut, keys } = setup();
    const reply = await sut.generate(GenerateKeyRequest.parse({ key_alias: 'new', team_id: 't1', duration: '1h' }));
    expect(reply.key).toMatch(/^sk-[A-Za-z0-9_-]{43}$/);
    const stored = keys.insert.mock.calls[0]![0] as Record<string, unknown>;
    expect(stored.token_hash).toBe(hashKey(reply.key));
    expect(JSON.stringify(stored)).not.toContain(reply.key);
    expect(stored.expires).toEqual(new Date(NOW + 3_600_000));
  });

  it('refuses an unknown team_id and a taken key_alias, writing nothing', async () => {
    const { sut, keys } = setup();
    const notFound = await errorOf(sut.generate(GenerateKeyRequest.parse({ team_id: 'nope' })));
    expect(notFound).toMatchObject({ code: 'NOT_FOUND', details: { field: 'team_id' } });
    const conflict = await errorOf(sut.generate(GenerateKeyRequest.parse({ key_alias: 'alice' })));
    expect(conflict).toMatchObject({ code: 'CONFLICT', details: { field: 'key_alias' } });
    expect(keys.insert).not.toHaveBeenCalled();
  });

  it('refuses object_permission naming a server the registry does not know, writing nothing; asks only when names are given', async () => {
    const { sut, keys, registry } = setup();
    const error = await errorOf(sut.generate(GenerateKeyRequest.parse({ object_permission: { mcp_servers: ['github', 'gitlab'] } })));
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'object_permission.mcp_servers', value: 'gitlab' } });
    const onUpdate = await errorOf(sut.update(UpdateKeyRequest.parse({ key: 'alice', object_permission: { mcp_access_groups: ['ops'] } })));
    expect(onUpdate.message).toBe('object_permission.mcp_access_groups: no MCP server is in access group "ops"');
    expect(keys.insert).not.toHaveBeenCalled();
    expect(keys.update).not.toHaveBeenCalled();
    registry.call.mockClear();
    await sut.generate(GenerateKeyRequest.parse({ object_permission: { mcp_servers: ['id-jira'], mcp_access_groups: ['dev'] } }));
    await sut.generate(GenerateKeyRequest.parse({ object_permission: { mcp_servers: [] } }));
    await sut.update(UpdateKeyRequest.parse({ key: 'alice', object_permission: null }));
    expect(registry.call).toHaveBeenCalledTimes(1);
  });

  it('publishes KeysChanged after an update, as blocked when it blocks', async () => {
    const { sut, events } = setup();
    await sut.update(UpdateKeyRequest.parse({ key: 'alice', rpm_limit: 5 }));
    await sut.update(UpdateKeyRequest.parse({ key: KEY, blocked: true }));
    expect(events.keysChanged.mock.calls).toEqual([
      [[hashKey(KEY)], 'updated'],
      [[hashKey(KEY)], 'blocked'],
    ]);
  });

  it('deletes all or nothing and never echoes a full key in the error', async () => {
    const { sut, keys, events } = setup();
    const error = await errorOf(sut.delete({ keys: [KEY, 'sk-doesnotexistdoesnotexist1234'] }));
    expect(error).toMatchObject({ code: 'NOT_FOUND', details: { field: 'keys', missing: ['sk-...1234'] } });
    expect(error.message).not.toContain('doesnotexist');
    expect(keys.deleteMany).not.toHaveBeenCalled();
    expect(events.keysChanged).not.toHaveBeenCalled();
    expect(await sut.delete({ keys: [hashKey(KEY)], key_aliases: ['alice'] })).toEqual({ deleted_keys: [hashKey(KEY)] });
    expect(events.keysChanged).toHaveBeenCalledWith([hashKey(KEY)], 'deleted');
  });
});
