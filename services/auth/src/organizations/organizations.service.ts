import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DomainError, NewOrganizationRequest, UpdateOrganizationRequest, type OrganizationInfo } from '#libs/contracts';
import type { z } from 'zod';
import { UnitOfWork, type AuthRepositories } from '../database/unit-of-work.js';
import { KeyEvents } from '../keys/key-events.js';
import { KnownServers } from '../permissions/known-servers.js';
import { presentFields, toOrganizationInfo, toTeamInfo } from '../views.js';

type NewOrganization = z.output<typeof NewOrganizationRequest>;
type UpdateOrganization = z.output<typeof UpdateOrganizationRequest>;

@Injectable()
export class OrganizationsService {
  constructor(
    @Inject(UnitOfWork) private readonly uow: UnitOfWork,
    @Inject(KeyEvents) private readonly events: KeyEvents,
    @Inject(KnownServers) private readonly knownServers: KnownServers,
  ) {}

  async create(request: NewOrganization): Promise<OrganizationInfo> {
    await this.knownServers.assertKnown(request.object_permission);
    const id = request.organization_id ?? randomUUID();
    const row = await this.uow.transaction(async (r) => {
      if (await r.organizations.get(id)) {
        throw new DomainError('CONFLICT', `organization_id: "${id}" is already taken`, { field: 'organization_id', organization_id: id });
      }
      await requireFreeAlias(r, request.organization_alias, null);
      await r.organizations.insert({
        id,
        organization_alias: request.organization_alias,
        object_permission: request.object_permission ?? null,
        rpm_limit: request.rpm_limit ?? null,
        metadata: request.metadata ?? {},
      });
      return (await r.organizations.get(id))!;
    });
    return toOrganizationInfo(row);
  }

  /** Every key of every team of the organization verifies differently afterwards: KeysChanged names them all. */
  async update(request: UpdateOrganization): Promise<OrganizationInfo> {
    await this.knownServers.assertKnown(request.object_permission);
    const { row, hashes } = await this.uow.transaction(async (r) => {
      await requireOrganization(r, request.organization_id);
      if (request.organization_alias) await requireFreeAlias(r, request.organization_alias, request.organization_id);
      await r.organizations.update(request.organization_id, presentFields(request, ['organization_alias', 'object_permission', 'rpm_limit', 'metadata'] as const));
      return { row: (await r.organizations.get(request.organization_id))!, hashes: await r.keys.hashesOfOrganization(request.organization_id) };
    });
    this.events.keysChanged(hashes, 'organization');
    this.events.teamsChanged([], [request.organization_id]);
    return toOrganizationInfo(row);
  }

  /** All or nothing; an organization that still has teams is refused (CONFLICT). */
  async delete(organizationIds: readonly string[]): Promise<{ deleted_organizations: string[] }> {
    const ids = [...new Set(organizationIds)];
    await this.uow.transaction(async (r) => {
      for (const id of ids) {
        await requireOrganization(r, id);
        const teamCount = await r.teams.countByOrganization(id);
        if (teamCount > 0) {
          throw new DomainError(
            'CONFLICT',
            `organization_ids: organization "${id}" still has ${teamCount} team(s); delete or move them first. Nothing was deleted`,
            { field: 'organization_ids', organization_id: id, team_count: teamCount },
          );
        }
      }
      await r.organizations.deleteMany(ids);
    });
    this.events.teamsChanged([], ids);
    return { deleted_organizations: ids };
  }

  async info(organizationId: string) {
    return this.uow.read(async (r) => {
      const org = await requireOrganization(r, organizationId);
      const teams = await r.teams.list(organizationId);
      return { ...toOrganizationInfo(org), teams: teams.map(toTeamInfo) };
    });
  }

  async list(): Promise<{ organizations: OrganizationInfo[] }> {
    const rows = await this.uow.read((r) => r.organizations.list());
    return { organizations: rows.map(toOrganizationInfo) };
  }
}

async function requireOrganization(r: AuthRepositories, id: string) {
  const org = await r.organizations.get(id);
  if (!org) throw new DomainError('NOT_FOUND', `organization_id: no organization "${id}"`, { field: 'organization_id', organization_id: id });
  return org;
}

async function requireFreeAlias(r: AuthRepositories, alias: string, ownId: string | null): Promise<void> {
  const other = await r.organizations.findByAlias(alias);
  if (other && other.id !== ownId) {
    throw new DomainError('CONFLICT', `organization_alias: "${alias}" is already used by another organization`, {
      field: 'organization_alias',
      organization_alias: alias,
    });
  }
}
