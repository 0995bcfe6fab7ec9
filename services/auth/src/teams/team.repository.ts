import type { EntityManager, QueryDeepPartialEntity } from 'typeorm';
import { TeamEntity, type TeamRow } from './team.entity.js';

/** The only place that touches the teams table. */
export class TeamRepository {
  constructor(private readonly manager: EntityManager) {}

  private get repo() {
    return this.manager.getRepository(TeamEntity);
  }

  get(id: string): Promise<TeamRow | null> {
    return this.repo.findOneBy({ id });
  }

  findByAlias(alias: string): Promise<TeamRow | null> {
    return this.repo.findOneBy({ team_alias: alias });
  }

  async insert(row: Omit<TeamRow, 'created_at' | 'updated_at'>): Promise<void> {
    await this.repo.insert(row as QueryDeepPartialEntity<TeamRow>);
  }

  async update(id: string, changes: Partial<Omit<TeamRow, 'id' | 'created_at' | 'updated_at'>>): Promise<void> {
    await this.repo.update({ id }, { ...changes, updated_at: new Date() } as QueryDeepPartialEntity<TeamRow>);
  }

  async deleteMany(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.manager.query(`DELETE FROM teams WHERE id = ANY($1)`, [ids]);
  }

  list(organizationId?: string): Promise<TeamRow[]> {
    return this.repo.find({ where: organizationId === undefined ? {} : { organization_id: organizationId }, order: { created_at: 'ASC', id: 'ASC' } });
  }

  countByOrganization(organizationId: string): Promise<number> {
    return this.repo.countBy({ organization_id: organizationId });
  }
}
