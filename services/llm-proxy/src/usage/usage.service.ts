import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { LlmCaller, SpendLogRow } from '#libs/contracts';
import { Metrics } from '#libs/observability';
import type { ModelTurn } from '../chat/model-turn.js';
import { SpendStore } from './spend-store.js';

const FLUSH_EVERY_MS = 200;
const MAX_BATCH = 200;

export interface UsageEntry {
  caller: LlmCaller;
  requestId: string;
  callType: SpendLogRow['call_type'];
  /** The model_name asked for. */
  modelGroup: string;
  turns: readonly ModelTurn[];
  started: number;
  status: SpendLogRow['status'];
}

/**
 * Token usage and cost per request, per key, team and model (LiteLLM's spend logs). Rows are written in batches
 * off the request path: accounting never slows an answer.
 */
@Injectable()
export class UsageService implements OnModuleDestroy {
  private readonly log = new Logger(UsageService.name);
  private batch: SpendLogRow[] = [];
  private timer?: NodeJS.Timeout;

  constructor(@Inject(SpendStore) private readonly store: SpendStore) {}

  record(entry: UsageEntry): void {
    let prompt = 0;
    let completion = 0;
    let spend = 0;
    for (const turn of entry.turns) {
      const p = turn.usage?.prompt_tokens ?? 0;
      const c = turn.usage?.completion_tokens ?? 0;
      prompt += p;
      completion += c;
      spend += p * turn.deployment.inputCostPerToken + c * turn.deployment.outputCostPerToken;
    }
    this.batch.push({
      request_id: entry.requestId,
      call_type: entry.callType,
      api_key: entry.caller.token_hash,
      key_alias: entry.caller.key_alias,
      user: entry.caller.user_id,
      team_id: entry.caller.team_id,
      organization_id: entry.caller.organization_id,
      model_group: entry.modelGroup,
      model: entry.turns.at(-1)?.model ?? entry.modelGroup,
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      spend,
      startTime: new Date(entry.started).toISOString(),
      endTime: new Date().toISOString(),
      status: entry.status,
    });
    Metrics.llmTokens.inc({ model: entry.modelGroup, kind: 'prompt' }, prompt);
    Metrics.llmTokens.inc({ model: entry.modelGroup, kind: 'completion' }, completion);
    if (this.batch.length >= MAX_BATCH) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_EVERY_MS);
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0) return;
    const rows = this.batch;
    this.batch = [];
    await this.store.insert(rows).catch((error: Error) => this.log.error(`could not write ${rows.length} spend rows: ${error.message}`));
  }

  async onModuleDestroy(): Promise<void> {
    await this.flush();
  }
}
