import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DomainError, NewTeamRequest, UpdateTeamRequest, type TeamInfo } from '#libs/contracts';
import type { z } from 'zod';
import { UnitOfWork, type AuthRepositories } from '../database/unit-of-work.js';
import { KeyEvents } from '../keys/key-events.js';
import { KnownServers } from '../permissions/known-servers.js';
import { presentFields, toKeyInfo, toTeamInfo } from '../views.js';

type NewTeam = z.output<typeof NewTeamRequest>;
type UpdateTeam = z.output<typeof UpdateTeamRequest>;

const FIELDS = ['team_alias', 'organization_id', 'object_permission', 'rpm_limit', 'max_parallel_requests', 'models', 'metadata', 'blocked'] as const;

@Injectable()
export class TeamsService {
  constructor(
    @Inject(UnitOfWork) private readonly uow: UnitOfWork,
    @Inject(KeyEvents) private readonly events: KeyEvents,
    @Inject(KnownServers) private readonly knownServers: KnownServers,
  ) {}

  async create(request: NewTeam): Promise<TeamInfo> {
    await this.knownServers.assertKnown(request.object_permission);
    const id = request.team_id ?? randomUUID();
    const row = await this.uow.transaction(async (r) => {
      if (await r.teams.get(id)) throw new DomainError('CONFLICT', `team_id: "${id}" is already taken`, { field: 'team_id', team_id: id });
      await this.check(r, request, null);
      await r.teams.insert({
        id,
        team_alias: request.team_alias ?? null,
        organization_id: request.organization_id ?? null,
        object_permission: request.object_permission ?? null,
        rpm_limit: request.rpm_limit ?? null,
        max_parallel_requests: request.max_parallel_requests ?? null,
        models: request.models ?? [],
        metadata: request.metadata ?? {},
        blocked: request.blocked ?? false,
      });
      return (await r.teams.get(id))!;
    });
    return toTeamInfo(row);
  }

  /** Every key of the team verifies differently afterwards: KeysChanged names them all. */
  async update(request: UpdateTeam): Promise<TeamInfo> {
    await this.knownServers.assertKnown(request.object_permission);
    const { row, hashes } = await this.uow.transaction(async (r) => {
      await requireTeam(r, request.team_id);
      await this.check(r, request, request.team_id);
      await r.teams.update(request.team_id, presentFields(request, FIELDS));
      return { row: (await r.teams.get(request.team_id))!, hashes: await r.keys.hashesOfTeam(request.team_id) };
    });
    this.events.keysChanged(hashes, 'team');
    this.events.teamsChanged([request.team_id], []);
    return toTeamInfo(row);
  }

  /** All or nothing; a team that still has keys is refused (CONFLICT), see DeleteTeamsRequest. */
  async delete(teamIds: readonly string[]): Promise<{ deleted_teams: string[] }> {
    const ids = [...new Set(teamIds)];
    await this.uow.transaction(async (r) => {
      for (const id of ids) {
        await requireTeam(r, id);
        const keyCount = await r.keys.countByTeam(id);
        if (keyCount > 0) {
          throw new DomainError('CONFLICT', `team_ids: team "${id}" still has ${keyCount} key(s); delete or move them first. Nothing was deleted`, {
            field: 'team_ids',
            team_id: id,
            key_count: keyCount,
          });
        }
      }
      await r.teams.deleteMany(ids);
    });
    this.events.teamsChanged(ids, []);
    return { deleted_teams: ids };
  }

  async info(teamId: string) {
    return this.uow.read(async (r) => {
      const team = await requireTeam(r, teamId);
      const keys = await r.keys.listByTeam(teamId);
      return { team_id: team.id, team_info: toTeamInfo(team), keys: keys.map(toKeyInfo) };
    });
  }

  async list(organizationId?: string): Promise<{ teams: TeamInfo[] }> {
    const rows = await this.uow.read((r) => r.teams.list(organizationId));
    return { teams: rows.map(toTeamInfo) };
  }

  private async check(r: AuthRepositories, request: NewTeam, ownId: string | null): Promise<void> {
    if (request.organization_id && !(await r.organizations.get(request.organization_id))) {
      throw new DomainError('NOT_FOUND', `organization_id: no organization "${request.organization_id}"`, {
        field: 'organization_id',
        organization_id: request.organization_id,
      });
    }
    if (request.team_alias) {
      const other = await r.teams.findByAlias(request.team_alias);
      if (other && other.id !== ownId) {
        throw new DomainError('CONFLICT', `team_alias: "${request.team_alias}" is already used by another team`, { field: 'team_alias', team_alias: request.team_alias });
      }
    }
  }
}

async function requireTeam(r: AuthRepositories, id: string) {
  const team = await r.teams.get(id);
  if (!team) throw new DomainError('NOT_FOUND', `team_id: no team "${id}"`, { field: 'team_id', team_id: id });
  return team;
}
