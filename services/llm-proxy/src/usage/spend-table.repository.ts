import { DataSource } from 'typeorm';
import type { SpendLogRow } from '#libs/contracts';
import { deleteOldest } from '../retention/delete-oldest.js';
import { SpendLogEntity } from './spend-log.entity.js';
import { SpendStore, type SpendFilter } from './spend-store.js';

/** Usage rows in llm-proxy's own table `llm_spend_logs`. */
export class SpendTableRepository extends SpendStore {
  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async insert(rows: readonly SpendLogRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.dataSource.getRepository(SpendLogEntity).insert(
      rows.map((r) => ({
        request_id: r.request_id,
        call_type: r.call_type,
        api_key: r.api_key,
        key_alias: r.key_alias,
        user_id: r.user,
        team_id: r.team_id,
        organization_id: r.organization_id,
        model_group: r.model_group,
        model: r.model,
        prompt_tokens: r.prompt_tokens,
        completion_tokens: r.completion_tokens,
        spend: r.spend,
        start_time: new Date(r.startTime),
        end_time: new Date(r.endTime),
        status: r.status,
      })),
    );
  }

  async query(filter: SpendFilter): Promise<SpendLogRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.api_key !== undefined) add('api_key = ?', filter.api_key);
    if (filter.user_id !== undefined) add('user_id = ?', filter.user_id);
    if (filter.team_id !== undefined) add('team_id = ?', filter.team_id);
    if (filter.request_id !== undefined) add('request_id = ?', filter.request_id);
    if (filter.model !== undefined) add('model_group = ?', filter.model);
    if (filter.start !== undefined) add('start_time >= ?', filter.start);
    if (filter.end !== undefined) add('start_time < ?', filter.end);
    params.push(filter.limit);
    const rows: SpendLogEntity[] = await this.dataSource.query(
      `SELECT * FROM llm_spend_logs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY start_time DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map((r) => ({
      request_id: r.request_id,
      call_type: r.call_type as SpendLogRow['call_type'],
      api_key: r.api_key,
      key_alias: r.key_alias,
      user: r.user_id,
      team_id: r.team_id,
      organization_id: r.organization_id,
      model_group: r.model_group,
      model: r.model,
      prompt_tokens: r.prompt_tokens,
      completion_tokens: r.completion_tokens,
      total_tokens: r.prompt_tokens + r.completion_tokens,
      spend: Number(r.spend),
      startTime: new Date(r.start_time).toISOString(),
      endTime: new Date(r.end_time).toISOString(),
      status: r.status as SpendLogRow['status'],
    }));
  }

  async totals(tokens: readonly string[]): Promise<Record<string, number>> {
    if (tokens.length === 0) return {};
    const rows: { api_key: string; spend: string | number }[] = await this.dataSource.query(
      'SELECT api_key, SUM(spend) AS spend FROM llm_spend_logs WHERE api_key = ANY($1) GROUP BY api_key',
      [tokens],
    );
    return Object.fromEntries(rows.map((r) => [r.api_key, Number(r.spend)]));
  }

  deleteOlderThan(cutoff: Date, limit: number): Promise<number> {
    return deleteOldest(this.dataSource, 'llm_spend_logs', 'request_id', 'start_time', cutoff, limit);
  }
}
