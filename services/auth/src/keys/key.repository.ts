import type { EntityManager, QueryDeepPartialEntity } from 'typeorm';
import type { ObjectPermission } from '#libs/contracts';
import { KeyEntity, type KeyRow } from './key.entity.js';

/** A key with its team's organization, as the management API shows it. */
export type KeyRecord = KeyRow & { organization_id: string | null };

/** A key with everything verification needs from its team and organization, in one query. */
export interface PrincipalRecord extends KeyRecord {
  team_alias: string | null;
  team_permission: ObjectPermission | null;
  team_rpm_limit: number | null;
  team_max_parallel_requests: number | null;
  team_blocked: boolean | null;
  team_models: string[] | null;
  organization_alias: string | null;
  organization_permission: ObjectPermission | null;
  organization_rpm_limit: number | null;
}

export interface KeyListFilter {
  team_id?: string;
  organization_id?: string;
  user_id?: string;
  key_alias?: string;
}

const SELECT_RECORD = `SELECT k.*, t.organization_id FROM keys k LEFT JOIN teams t ON t.id = k.team_id`;

/** The only place that touches the keys table. */
export class KeyRepository {
  constructor(private readonly manager: EntityManager) {}

  async findPrincipal(tokenHash: string): Promise<PrincipalRecord | null> {
    const rows: PrincipalRecord[] = await this.manager.query(
      `SELECT k.*, t.organization_id, t.team_alias, t.object_permission AS team_permission, t.rpm_limit AS team_rpm_limit,
              t.max_parallel_requests AS team_max_parallel_requests, t.blocked AS team_blocked, t.models AS team_models,
              o.organization_alias, o.object_permission AS organization_permission, o.rpm_limit AS organization_rpm_limit
         FROM keys k LEFT JOIN teams t ON t.id = k.team_id LEFT JOIN organizations o ON o.id = t.organization_id
        WHERE k.token_hash = $1`,
      [tokenHash],
    );
    return rows[0] ?? null;
  }

  /** Keys whose token hash is one of `hashes` or whose alias is `alias`. */
  async findByHashesOrAlias(hashes: readonly string[], alias: string | null): Promise<KeyRecord[]> {
    return this.manager.query(`${SELECT_RECORD} WHERE k.token_hash = ANY($1) OR ($2::text IS NOT NULL AND k.key_alias = $2)`, [hashes, alias]);
  }

  async findByAlias(alias: string): Promise<KeyRecord | null> {
    const rows: KeyRecord[] = await this.manager.query(`${SELECT_RECORD} WHERE k.key_alias = $1`, [alias]);
    return rows[0] ?? null;
  }

  async existsHash(tokenHash: string): Promise<boolean> {
    return (await this.manager.getRepository(KeyEntity).countBy({ token_hash: tokenHash })) > 0;
  }

  async get(tokenHash: string): Promise<KeyRecord | null> {
    const rows: KeyRecord[] = await this.manager.query(`${SELECT_RECORD} WHERE k.token_hash = $1`, [tokenHash]);
    return rows[0] ?? null;
  }

  async insert(row: Omit<KeyRow, 'created_at' | 'updated_at'>): Promise<void> {
    await this.manager.getRepository(KeyEntity).insert(row as QueryDeepPartialEntity<KeyRow>);
  }

  async update(tokenHash: string, changes: Partial<Omit<KeyRow, 'token_hash' | 'created_at' | 'updated_at'>>): Promise<void> {
    await this.manager.getRepository(KeyEntity).update({ token_hash: tokenHash }, { ...changes, updated_at: new Date() } as QueryDeepPartialEntity<KeyRow>);
  }

  async deleteMany(tokenHashes: readonly string[]): Promise<void> {
    if (tokenHashes.length === 0) return;
    await this.manager.query(`DELETE FROM keys WHERE token_hash = ANY($1)`, [tokenHashes]);
  }

  async list(filter: KeyListFilter, offset: number, limit: number): Promise<{ rows: KeyRecord[]; total: number }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.team_id !== undefined) add('k.team_id = ?', filter.team_id);
    if (filter.organization_id !== undefined) add('t.organization_id = ?', filter.organization_id);
    if (filter.user_id !== undefined) add('k.user_id = ?', filter.user_id);
    if (filter.key_alias !== undefined) add('k.key_alias = ?', filter.key_alias);
    const clause = where.length ? ` WHERE ${where.join(' AND ')}` : '';
    const [{ count }] = await this.manager.query(`SELECT count(*)::int AS count FROM keys k LEFT JOIN teams t ON t.id = k.team_id${clause}`, params);
    const rows: KeyRecord[] = await this.manager.query(
      `${SELECT_RECORD}${clause} ORDER BY k.created_at DESC, k.token_hash LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, limit, offset],
    );
    return { rows, total: count };
  }

  async listByTeam(teamId: string): Promise<KeyRecord[]> {
    return this.manager.query(`${SELECT_RECORD} WHERE k.team_id = $1 ORDER BY k.created_at`, [teamId]);
  }

  async countByTeam(teamId: string): Promise<number> {
    return this.manager.getRepository(KeyEntity).countBy({ team_id: teamId });
  }

  async hashesOfTeam(teamId: string): Promise<string[]> {
    const rows: { token_hash: string }[] = await this.manager.query(`SELECT token_hash FROM keys WHERE team_id = $1`, [teamId]);
    return rows.map((r) => r.token_hash);
  }

  async hashesOfOrganization(organizationId: string): Promise<string[]> {
    const rows: { token_hash: string }[] = await this.manager.query(
      `SELECT k.token_hash FROM keys k JOIN teams t ON t.id = k.team_id WHERE t.organization_id = $1`,
      [organizationId],
    );
    return rows.map((r) => r.token_hash);
  }
}
