import { Inject, Injectable } from '@nestjs/common';
import type { z } from 'zod';
import type { QuerySpendLogs, SpendLogRow } from '#libs/contracts';
import { SpendStore } from './spend-store.js';
import { UsageService } from './usage.service.js';

const DEFAULT_LIMIT = 100;

/** Reads usage rows: GET /spend/logs, and `spend` of /key/info. */
@Injectable()
export class SpendService {
  constructor(
    @Inject(SpendStore) private readonly store: SpendStore,
    @Inject(UsageService) private readonly usage: UsageService,
  ) {}

  async logs(request: z.output<typeof QuerySpendLogs.request>): Promise<SpendLogRow[]> {
    await this.usage.flush(); // what this replica recorded so far is visible to the caller
    return this.store.query({
      api_key: request.api_key,
      user_id: request.user_id,
      team_id: request.team_id,
      request_id: request.request_id,
      model: request.model,
      start: request.start_date ? new Date(request.start_date) : undefined,
      end: request.end_date ? new Date(request.end_date) : undefined,
      limit: request.limit ?? DEFAULT_LIMIT,
    });
  }

  async byKey(tokens: readonly string[]): Promise<{ spend: Record<string, number> }> {
    await this.usage.flush();
    const totals = await this.store.totals(tokens);
    return { spend: Object.fromEntries(tokens.map((t) => [t, totals[t] ?? 0])) };
  }
}
