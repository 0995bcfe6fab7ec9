import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type QueryDeepPartialEntity } from 'typeorm';
import type { AuditRecord, AuditRow } from '#libs/contracts';
import { AuditLogEntity, type AuditLogRow } from './audit.entity.js';

export interface AuditFilter {
  key_alias?: string;
  token_hash_prefix?: string;
  team_id?: string;
  organization_id?: string;
  server_name?: string;
  tool?: string;
  status?: string;
  session_id?: string;
  since?: string;
  until?: string;
}

const EXACT: readonly (keyof AuditFilter)[] = ['key_alias', 'token_hash_prefix', 'team_id', 'organization_id', 'server_name', 'tool', 'status', 'session_id'];

/** The only place that touches audit_log. */
@Injectable()
export class AuditRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** One multi-row INSERT per call. */
  async insertMany(records: readonly AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    const rows = records.map((r) => ({ ...r, time: new Date(r.time) }));
    await this.dataSource.getRepository(AuditLogEntity).insert(rows as QueryDeepPartialEntity<AuditLogRow>[]);
  }

  async query(filter: AuditFilter, offset: number, limit: number): Promise<{ rows: AuditRow[]; total: number }> {
    const where: string[] = [];
    const params: unknown[] = [];
    for (const field of EXACT) {
      if (filter[field] === undefined) continue;
      params.push(filter[field]);
      where.push(`${field} = $${params.length}`);
    }
    if (filter.since !== undefined) {
      params.push(filter.since);
      where.push(`time >= $${params.length}`);
    }
    if (filter.until !== undefined) {
      params.push(filter.until);
      where.push(`time < $${params.length}`);
    }
    const clause = where.length ? ` WHERE ${where.join(' AND ')}` : '';
    const [{ count }] = await this.dataSource.query(`SELECT count(*)::int AS count FROM audit_log${clause}`, params);
    const rows: AuditLogRow[] = await this.dataSource.query(
      `SELECT * FROM audit_log${clause} ORDER BY time DESC, id DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, limit, offset],
    );
    return {
      total: count,
      rows: rows.map((row) => ({ ...row, id: String(row.id), time: new Date(row.time).toISOString() }) as AuditRow),
    };
  }

  /** Deletes at most `limit` rows older than `cutoff`, oldest first; returns how many it deleted. */
  async deleteOlderThan(cutoff: Date, limit: number): Promise<number> {
    // a SELECT around the DELETE: TypeORM returns a plain row list for it on every driver
    const [{ n }] = await this.dataSource.query(
      'WITH gone AS (DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE time < $1 ORDER BY time LIMIT $2) RETURNING 1) SELECT count(*)::int AS n FROM gone',
      [cutoff, limit],
    );
    return n as number;
  }
}
