import type { KeyInfo, ObjectPermission, OrganizationInfo, TeamInfo } from '#libs/contracts';
import type { OrganizationRow } from './organizations/organization.entity.js';
import type { TeamRow } from './teams/team.entity.js';
import type { KeyRecord } from './keys/key.repository.js';

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());
const perm = (p: ObjectPermission | null): ObjectPermission | null =>
  p === null ? null : { mcp_servers: p.mcp_servers ?? [], mcp_access_groups: p.mcp_access_groups ?? [], mcp_tool_permissions: p.mcp_tool_permissions ?? {} };

export function toKeyInfo(row: KeyRecord): KeyInfo {
  return {
    token: row.token_hash,
    key_name: row.key_name,
    key_alias: row.key_alias,
    team_id: row.team_id,
    organization_id: row.organization_id ?? null,
    user_id: row.user_id,
    expires: iso(row.expires),
    blocked: row.blocked,
    metadata: row.metadata ?? {},
    rpm_limit: row.rpm_limit,
    max_parallel_requests: row.max_parallel_requests,
    object_permission: perm(row.object_permission),
    models: row.models ?? [],
    is_admin: row.is_admin,
    created_at: iso(row.created_at)!,
    updated_at: iso(row.updated_at)!,
  };
}

export function toTeamInfo(row: TeamRow): TeamInfo {
  return {
    team_id: row.id,
    team_alias: row.team_alias,
    organization_id: row.organization_id,
    object_permission: perm(row.object_permission),
    rpm_limit: row.rpm_limit,
    max_parallel_requests: row.max_parallel_requests,
    models: row.models ?? [],
    metadata: row.metadata ?? {},
    blocked: row.blocked,
    created_at: iso(row.created_at)!,
    updated_at: iso(row.updated_at)!,
  };
}

export function toOrganizationInfo(row: OrganizationRow): OrganizationInfo {
  return {
    organization_id: row.id,
    organization_alias: row.organization_alias,
    object_permission: perm(row.object_permission),
    rpm_limit: row.rpm_limit,
    metadata: row.metadata ?? {},
    created_at: iso(row.created_at)!,
    updated_at: iso(row.updated_at)!,
  };
}

/** Copies only the fields present in `request` (undefined = unchanged, null = cleared). */
export function presentFields<T extends object, K extends keyof T>(request: T, fields: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const f of fields) if (request[f] !== undefined) out[f] = request[f];
  return out;
}
