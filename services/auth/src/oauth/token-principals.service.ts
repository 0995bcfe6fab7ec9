import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type EntityReference, type ObjectPermission, type Principal, type RequestOf, type ResolveTokenPrincipal } from '#libs/contracts';
import { UnitOfWork, type AuthRepositories } from '../database/unit-of-work.js';
import type { OrganizationRow } from '../organizations/organization.entity.js';
import type { TeamRow } from '../teams/team.entity.js';

const unauthenticated = (reason: string, message: string) => new DomainError('UNAUTHENTICATED', message, { reason });

const norm = (p: ObjectPermission | null | undefined): ObjectPermission | null =>
  p === null || p === undefined ? null : { mcp_servers: p.mcp_servers ?? [], mcp_access_groups: p.mcp_access_groups ?? [], mcp_tool_permissions: p.mcp_tool_permissions ?? {} };

/** A stable id of the user an issuer names (sha256 hex, the shape of a key's token hash; never the token). */
export function tokenSubjectHash(issuer: string, userId: string): string {
  return createHash('sha256').update(`oauth\n${issuer}\n${userId}`).digest('hex');
}

/**
 * The Principal of a validated OAuth access token (ResolveTokenPrincipal): the stored team and organization its
 * claims name, with every level, limit and model list an API key of that team would carry, and no key level.
 */
@Injectable()
export class TokenPrincipalsService {
  constructor(@Inject(UnitOfWork) private readonly uow: UnitOfWork) {}

  async resolve(request: RequestOf<typeof ResolveTokenPrincipal>): Promise<Principal> {
    return this.uow.read(async (r) => {
      const team = request.team ? await findTeam(r, request.team) : null;
      if (request.team && !team) throw unauthenticated('unknown_team', `the token's team ${describe(request.team)} does not exist`);
      if (team?.blocked) throw unauthenticated('team_blocked', "the token's team is blocked");
      let organization: OrganizationRow | null = null;
      if (request.organization) {
        organization = await findOrganization(r, request.organization);
        if (!organization) throw unauthenticated('unknown_organization', `the token's organization ${describe(request.organization)} does not exist`);
        if (team && team.organization_id !== organization.id) {
          throw unauthenticated('organization_mismatch', `the token's organization ${describe(request.organization)} is not the organization of its team "${team.id}"`);
        }
      } else if (team?.organization_id) {
        organization = await r.organizations.get(team.organization_id);
      }
      return toTokenPrincipal(request.issuer, request.user_id, team, organization);
    });
  }
}

function describe(reference: EntityReference): string {
  return `${reference.by === 'alias' ? 'alias ' : ''}"${reference.value}"`;
}

async function findTeam(r: AuthRepositories, reference: EntityReference): Promise<TeamRow | null> {
  if (reference.by !== 'alias') {
    const byId = await r.teams.get(reference.value);
    if (byId || reference.by === 'id') return byId;
  }
  return r.teams.findByAlias(reference.value);
}

async function findOrganization(r: AuthRepositories, reference: EntityReference): Promise<OrganizationRow | null> {
  if (reference.by !== 'alias') {
    const byId = await r.organizations.get(reference.value);
    if (byId || reference.by === 'id') return byId;
  }
  return r.organizations.findByAlias(reference.value);
}

/** Exactly the levels and limits `toPrincipal` gives a key of `team` whose own object_permission is unset. */
export function toTokenPrincipal(issuer: string, userId: string, team: TeamRow | null, organization: OrganizationRow | null): Principal {
  return {
    kind: 'virtual',
    token_hash: tokenSubjectHash(issuer, userId),
    key_alias: `oauth:${userId}`,
    user_id: userId,
    team_id: team?.id ?? null,
    organization_id: organization?.id ?? null,
    expires: null, // the edge checks the token's own exp on every request
    rpm_limit: null,
    max_parallel_requests: null,
    is_admin: false,
    levels: { key: null, team: team ? norm(team.object_permission) : null, organization: organization ? norm(organization.object_permission) : null },
    key_name: null,
    team_alias: team?.team_alias ?? null,
    organization_alias: organization?.organization_alias ?? null,
    team_rpm_limit: team?.rpm_limit ?? null,
    team_max_parallel_requests: team?.max_parallel_requests ?? null,
    organization_rpm_limit: organization?.rpm_limit ?? null,
    models: [],
    team_models: team?.models ?? [],
    oauth_issuer: issuer,
  };
}
