import { describe, expect, it } from 'vitest';
import { DomainError, type ObjectPermission } from '#libs/contracts';
import type { AuthRepositories, UnitOfWork } from '../database/unit-of-work.js';
import { toPrincipal } from '../keys/keys.service.js';
import type { PrincipalRecord } from '../keys/key.repository.js';
import type { OrganizationRow } from '../organizations/organization.entity.js';
import type { TeamRow } from '../teams/team.entity.js';
import { tokenSubjectHash, TokenPrincipalsService } from './token-principals.service.js';

const perm = (servers: string[], tools: Record<string, string[]> = {}): ObjectPermission => ({ mcp_servers: servers, mcp_access_groups: ['dev'], mcp_tool_permissions: tools });
const at = new Date('2026-01-01T00:00:00Z');
const ISSUER = 'https://idp.example.com';

const teams: TeamRow[] = [
  { id: 't-eng', team_alias: 'engineering', organization_id: 'o-acme', object_permission: perm(['github'], { github: ['list_issues'] }), rpm_limit: 60, max_parallel_requests: 3, models: ['gpt-4o'], metadata: {}, blocked: false, created_at: at, updated_at: at },
  { id: 't-free', team_alias: 'free', organization_id: null, object_permission: null, rpm_limit: null, max_parallel_requests: null, models: [], metadata: {}, blocked: false, created_at: at, updated_at: at },
  { id: 't-off', team_alias: 'off', organization_id: null, object_permission: null, rpm_limit: null, max_parallel_requests: null, models: [], metadata: {}, blocked: true, created_at: at, updated_at: at },
];
const organizations: OrganizationRow[] = [
  { id: 'o-acme', organization_alias: 'acme', object_permission: perm(['github', 'jira']), rpm_limit: 600, metadata: {}, created_at: at, updated_at: at },
  { id: 'o-other', organization_alias: 'other', object_permission: null, rpm_limit: null, metadata: {}, created_at: at, updated_at: at },
];

function service() {
  const repos = {
    teams: { get: async (id: string) => teams.find((t) => t.id === id) ?? null, findByAlias: async (alias: string) => teams.find((t) => t.team_alias === alias) ?? null },
    organizations: {
      get: async (id: string) => organizations.find((o) => o.id === id) ?? null,
      findByAlias: async (alias: string) => organizations.find((o) => o.organization_alias === alias) ?? null,
    },
  } as unknown as AuthRepositories;
  const uow = { read: (fn: (r: AuthRepositories) => unknown) => fn(repos) } as unknown as UnitOfWork;
  return new TokenPrincipalsService(uow);
}

/** What VerifyKey returns for a key of `team` without its own object_permission. */
function keyOfTeam(team: TeamRow): ReturnType<typeof toPrincipal> {
  const org = organizations.find((o) => o.id === team.organization_id);
  const row: PrincipalRecord = {
    token_hash: 'h',
    key_alias: 'k',
    key_name: 'sk-...abcd',
    team_id: team.id,
    user_id: null,
    expires: null,
    blocked: false,
    metadata: {},
    rpm_limit: null,
    max_parallel_requests: null,
    object_permission: null,
    models: [],
    is_admin: false,
    created_at: at,
    updated_at: at,
    organization_id: team.organization_id,
    team_alias: team.team_alias,
    team_models: team.models,
    team_permission: team.object_permission,
    team_rpm_limit: team.rpm_limit,
    team_max_parallel_requests: team.max_parallel_requests,
    team_blocked: team.blocked,
    organization_alias: org?.organization_alias ?? null,
    organization_permission: org?.object_permission ?? null,
    organization_rpm_limit: org?.rpm_limit ?? null,
  } as PrincipalRecord;
  return toPrincipal(row);
}

const comparable = (p: Record<string, unknown>) => {
  const { token_hash, key_alias, key_name, user_id, oauth_issuer, ...rest } = p;
  return rest;
};

async function errorOf(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe('TokenPrincipalsService', () => {
  it('gives a token of a team the levels, limits and models of a key of that team (no key level, never admin)', async () => {
    for (const team of teams.filter((t) => !t.blocked)) {
      const principal = await service().resolve({ issuer: ISSUER, user_id: 'alice', team: { by: 'id', value: team.id }, organization: null });
      expect(comparable(principal)).toEqual(comparable(keyOfTeam(team)));
      expect(principal).toMatchObject({ user_id: 'alice', key_alias: 'oauth:alice', oauth_issuer: ISSUER, is_admin: false, token_hash: tokenSubjectHash(ISSUER, 'alice') });
    }
  });

  it('finds a team by alias, or by id then alias; the organization follows the team', async () => {
    const byAlias = await service().resolve({ issuer: ISSUER, user_id: 'bob', team: { by: 'alias', value: 'engineering' }, organization: null });
    expect(byAlias).toMatchObject({ team_id: 't-eng', organization_id: 'o-acme', organization_alias: 'acme' });
    const either = await service().resolve({ issuer: ISSUER, user_id: 'bob', team: { by: 'id_or_alias', value: 'engineering' }, organization: { by: 'alias', value: 'acme' } });
    expect(either.team_id).toBe('t-eng');
    // by id only: an alias is not an id
    expect((await errorOf(service().resolve({ issuer: ISSUER, user_id: 'bob', team: { by: 'id', value: 'engineering' }, organization: null }))).details?.reason).toBe('unknown_team');
  });

  it('refuses an unknown or blocked team, an unknown organization, and an organization other than the team’s', async () => {
    const reason = async (team: string | null, org: string | null) =>
      (await errorOf(service().resolve({ issuer: ISSUER, user_id: 'u', team: team ? { by: 'id_or_alias', value: team } : null, organization: org ? { by: 'id_or_alias', value: org } : null }))).details?.reason;
    expect(await reason('nope', null)).toBe('unknown_team');
    expect(await reason('t-off', null)).toBe('team_blocked');
    expect(await reason(null, 'nope')).toBe('unknown_organization');
    expect(await reason('t-eng', 'other')).toBe('organization_mismatch');
    expect(await reason('t-free', 'acme')).toBe('organization_mismatch');
  });

  it('without a team: no level but an organization claim’s', async () => {
    const none = await service().resolve({ issuer: ISSUER, user_id: 'u', team: null, organization: null });
    expect(none.levels).toEqual({ key: null, team: null, organization: null });
    const orgOnly = await service().resolve({ issuer: ISSUER, user_id: 'u', team: null, organization: { by: 'alias', value: 'acme' } });
    expect(orgOnly).toMatchObject({ team_id: null, organization_id: 'o-acme', organization_rpm_limit: 600 });
    expect(orgOnly.levels.organization).toEqual(perm(['github', 'jira']));
  });

  it('names the user, not the token: one id per issuer and user', () => {
    expect(tokenSubjectHash(ISSUER, 'alice')).toMatch(/^[0-9a-f]{64}$/);
    expect(tokenSubjectHash(ISSUER, 'alice')).not.toBe(tokenSubjectHash('https://other.example.com', 'alice'));
  });
});
