import type { SpendLogRow } from '#libs/contracts';

export interface SpendFilter {
  api_key?: string;
  user_id?: string;
  team_id?: string;
  request_id?: string;
  model?: string;
  /** Inclusive. */
  start?: Date;
  /** Exclusive. */
  end?: Date;
  limit: number;
}

/** Where usage rows are kept: llm-proxy's table `llm_spend_logs` (SpendTableRepository) or memory (tests). */
export abstract class SpendStore {
  abstract insert(rows: readonly SpendLogRow[]): Promise<void>;
  /** Newest first. */
  abstract query(filter: SpendFilter): Promise<SpendLogRow[]>;
  /** Total spend per key token; tokens without rows are left out. */
  abstract totals(tokens: readonly string[]): Promise<Record<string, number>>;
  /** Deletes at most `limit` rows of requests started before `cutoff`; returns how many. */
  abstract deleteOlderThan(cutoff: Date, limit: number): Promise<number>;
}

export class InMemorySpendStore extends SpendStore {
  private readonly rows: SpendLogRow[] = [];

  async insert(rows: readonly SpendLogRow[]): Promise<void> {
    this.rows.push(...rows.map((r) => ({ ...r })));
  }

  async query(filter: SpendFilter): Promise<SpendLogRow[]> {
    return this.rows
      .filter(
        (r) =>
          (filter.api_key === undefined || r.api_key === filter.api_key) &&
          (filter.user_id === undefined || r.user === filter.user_id) &&
          (filter.team_id === undefined || r.team_id === filter.team_id) &&
          (filter.request_id === undefined || r.request_id === filter.request_id) &&
          (filter.model === undefined || r.model_group === filter.model) &&
          (filter.start === undefined || Date.parse(r.startTime) >= filter.start.getTime()) &&
          (filter.end === undefined || Date.parse(r.startTime) < filter.end.getTime()),
      )
      .sort((a, b) => Date.parse(b.startTime) - Date.parse(a.startTime))
      .slice(0, filter.limit);
  }

  async totals(tokens: readonly string[]): Promise<Record<string, number>> {
    const wanted = new Set(tokens);
    const out: Record<string, number> = {};
    for (const r of this.rows) if (r.api_key && wanted.has(r.api_key)) out[r.api_key] = (out[r.api_key] ?? 0) + r.spend;
    return out;
  }

  async deleteOlderThan(cutoff: Date, limit: number): Promise<number> {
    const before = this.rows.length;
    let budget = limit;
    const kept = this.rows.filter((r) => !(Date.parse(r.startTime) < cutoff.getTime() && budget-- > 0));
    this.rows.splice(0, this.rows.length, ...kept);
    return before - kept.length;
  }
}
