import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AuditRecord, AuditRow } from '#libs/contracts';
import type { AuditLogRow } from './audit.entity.js';

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

/** The columns a record fills, in the order of insertMany's parameters (id is generated). */
const INSERTED = ['time', 'key_alias', 'token_hash_prefix', 'team_id', 'organization_id', 'server_name', 'tool', 'status', 'duration_ms', 'error_code', 'session_id'] as const;

const EXACT: readonly (keyof AuditFilter)[] = ['key_alias', 'token_hash_prefix', 'team_id', 'organization_id', 'server_name', 'tool', 'status', 'session_id'];

/** The only place that touches audit_log. */
@Injectable()
export class AuditRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * One INSERT per call whatever the number of records: each column travels as one array parameter (unnest), so
   * the statement and its plan stay the same size, unlike a VALUES row per record (the ORM's insert), whose
   * building and parsing cost grows with every record and was most of the one-process gateway's audit cost.
   */
  async insertMany(records: readonly AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    const column = <K extends keyof AuditRecord>(name: K) => records.map((r) => r[name] ?? null);
    await this.dataSource.query(
      `INSERT INTO audit_log (${INSERTED.join(', ')})
       SELECT * FROM unnest($1::timestamptz[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[], $7::varchar[], $8::varchar[], $9::integer[], $10::varchar[], $11::varchar[])`,
      INSERTED.map((name) => column(name)),
    );
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
