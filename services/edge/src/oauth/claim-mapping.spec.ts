import { describe, expect, it } from 'vitest';
import { JWT_ALGORITHMS } from '#libs/config';
import { claimAt, identityOf } from './claim-mapping.js';
import { InvalidToken } from './issuer-keys.js';
import type { IssuerPolicy } from './resource-settings.js';

const policy = (overrides: Partial<IssuerPolicy> = {}): IssuerPolicy => ({
  issuer: 'https://idp.example.com',
  audiences: [],
  algorithms: [...JWT_ALGORITHMS],
  userField: 'sub',
  teamAliasMap: {},
  organizationAliasMap: {},
  requiredScopes: [],
  ...overrides,
});

describe('identityOf: claims → user, team, organization', () => {
  it('reads the user claim (by name or dotted path); a token without one is invalid', () => {
    expect(identityOf(policy(), { sub: 'alice' })).toEqual({ user_id: 'alice', team: null, organization: null, claims: { sub: 'alice' } });
    expect(identityOf(policy({ userField: 'ext.uid' }), { sub: 'x', ext: { uid: 42 } }).user_id).toBe('42');
    expect(identityOf(policy({ userField: 'preferred.username' }), { 'preferred.username': 'bob' }).user_id).toBe('bob');
    expect(() => identityOf(policy({ userField: 'email' }), { sub: 'x' })).toThrow(new InvalidToken('the token has no user claim (email)'));
  });

  it('names the team by id or alias as the claim is configured, or through the alias map', () => {
    expect(identityOf(policy({ team: { field: 'team', by: 'id' } }), { sub: 'a', team: 't1' }).team).toEqual({ by: 'id', value: 't1' });
    expect(identityOf(policy({ team: { field: 'team', by: 'alias' } }), { sub: 'a', team: 'eng' }).team).toEqual({ by: 'alias', value: 'eng' });
    const mapped = identityOf(policy({ team: { field: 'groups', by: 'id' }, teamAliasMap: { engineering: 'team-eng' } }), { sub: 'a', groups: ['staff', 'engineering'] });
    expect(mapped.team).toEqual({ by: 'id_or_alias', value: 'team-eng' });
    expect(mapped.claims).toEqual({ sub: 'a', groups: ['staff', 'engineering'] });
    expect(identityOf(policy({ team: { field: 'groups', by: 'id' } }), { sub: 'a', groups: ['only'] }).team).toEqual({ by: 'id', value: 'only' });
  });

  it('refuses a list claim that names several teams without one mapping, or maps to several', () => {
    expect(() => identityOf(policy({ team: { field: 'groups', by: 'id' } }), { sub: 'a', groups: ['x', 'y'] })).toThrow(/several teams and none is mapped/);
    expect(() => identityOf(policy({ team: { field: 'groups', by: 'id' }, teamAliasMap: { x: 't1', y: 't2' } }), { sub: 'a', groups: ['x', 'y'] })).toThrow(/maps to several teams/);
    // two values mapping to the same team are one team
    expect(identityOf(policy({ team: { field: 'groups', by: 'id' }, teamAliasMap: { x: 't1', y: 't1' } }), { sub: 'a', groups: ['x', 'y'] }).team).toEqual({ by: 'id_or_alias', value: 't1' });
  });

  it('falls back to team_id_default when the claim is missing, and maps the organization alike', () => {
    const p = policy({ team: { field: 'team', by: 'id' }, teamDefault: 'default-team', organization: { field: 'org', by: 'alias' }, organizationAliasMap: { a: 'acme' } });
    expect(identityOf(p, { sub: 'a' })).toMatchObject({ team: { by: 'id_or_alias', value: 'default-team' }, organization: null, claims: { team: null, team_id_default: 'default-team', org: null } });
    expect(identityOf(p, { sub: 'a', org: 'a' }).organization).toEqual({ by: 'id_or_alias', value: 'acme' });
    expect(identityOf(p, { sub: 'a', org: 'beta' }).organization).toEqual({ by: 'alias', value: 'beta' });
    // a map never reaches prototype members
    expect(identityOf(policy({ team: { field: 'team', by: 'id' } }), { sub: 'a', team: 'constructor' }).team).toEqual({ by: 'id', value: 'constructor' });
  });

  it('claimAt walks dotted paths and stops at non-objects', () => {
    expect(claimAt({ a: { b: { c: 1 } } }, 'a.b.c')).toBe(1);
    expect(claimAt({ a: 'x' }, 'a.b')).toBeUndefined();
  });
});
