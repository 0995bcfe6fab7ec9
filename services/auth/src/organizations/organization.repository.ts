import type { EntityManager, QueryDeepPartialEntity } from 'typeorm';
import { OrganizationEntity, type OrganizationRow } from './organization.entity.js';

/** The only place that touches the organizations table. */
export class OrganizationRepository {
  constructor(private readonly manager: EntityManager) {}

  private get repo() {
    return this.manager.getRepository(OrganizationEntity);
  }

  get(id: string): Promise<OrganizationRow | null> {
    return this.repo.findOneBy({ id });
  }

  findByAlias(alias: string): Promise<OrganizationRow | null> {
    return this.repo.findOneBy({ organization_alias: alias });
  }

  async insert(row: Omit<OrganizationRow, 'created_at' | 'updated_at'>): Promise<void> {
    await this.repo.insert(row as QueryDeepPartialEntity<OrganizationRow>);
  }

  async update(id: string, changes: Partial<Omit<OrganizationRow, 'id' | 'created_at' | 'updated_at'>>): Promise<void> {
    await this.repo.update({ id }, { ...changes, updated_at: new Date() } as QueryDeepPartialEntity<OrganizationRow>);
  }

  async deleteMany(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.manager.query(`DELETE FROM organizations WHERE id = ANY($1)`, [ids]);
  }

  list(): Promise<OrganizationRow[]> {
    return this.repo.find({ order: { created_at: 'ASC', id: 'ASC' } });
  }
}
