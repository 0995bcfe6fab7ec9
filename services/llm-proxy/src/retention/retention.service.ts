import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ResponseStore } from '../responses/response-store.js';
import { SpendStore } from '../usage/spend-store.js';

export const LLM_RETENTION = Symbol('LLM_RETENTION');

export interface LlmRetention {
  /** general_settings.maximum_spend_logs_retention_period; undefined keeps everything. */
  periodMs?: number;
  /** general_settings.maximum_spend_logs_retention_interval (1h). */
  intervalMs: number;
  firstRunDelayMs: number;
}

/** Rows deleted per statement: short transactions, so the writers of these tables never wait long. */
const DELETE_BATCH = 5_000;

/**
 * Keeps llm-proxy's stored responses and usage rows to `maximum_spend_logs_retention_period` (SPEC section 2): a
 * cleanup a minute after start, then every interval, in small batches off the request path. Without a period it
 * does nothing.
 */
@Injectable()
export class RetentionService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(RetentionService.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    @Inject(ResponseStore) private readonly responses: ResponseStore,
    @Inject(SpendStore) private readonly spend: SpendStore,
    @Inject(LLM_RETENTION) private readonly options: LlmRetention,
  ) {}

  onModuleInit(): void {
    if (this.options.periodMs === undefined) return;
    const schedule = (delayMs: number) => {
      this.timer = setTimeout(() => void this.cleanUp().finally(() => !this.stopped && schedule(this.options.intervalMs)), delayMs);
      this.timer.unref();
    };
    schedule(this.options.firstRunDelayMs);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One run at a time. */
  cleanUp(): Promise<void> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<void> {
    if (this.options.periodMs === undefined) return;
    const cutoff = new Date(Date.now() - this.options.periodMs);
    for (const [name, store] of [['stored responses', this.responses], ['usage rows', this.spend]] as const) {
      try {
        let total = 0;
        for (;;) {
          const deleted = await store.deleteOlderThan(cutoff, DELETE_BATCH);
          total += deleted;
          if (deleted < DELETE_BATCH || this.stopped) break;
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (total > 0) this.log.log(`deleted ${total} ${name} older than ${cutoff.toISOString()}`);
      } catch (error) {
        this.log.warn(`cleanup of ${name} failed (will try again): ${(error as Error).message}`);
      }
    }
  }
}
