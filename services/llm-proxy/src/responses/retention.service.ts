import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ResponseStore } from './response-store.js';

const SWEEP_EVERY_MS = 60 * 60 * 1000;

/** Deletes stored responses past their retention (LLM_RESPONSES_RETENTION_DAYS): at start, then hourly. */
@Injectable()
export class RetentionService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(RetentionService.name);
  private timer?: NodeJS.Timeout;

  constructor(@Inject(ResponseStore) private readonly store: ResponseStore) {}

  onModuleInit(): void {
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), SWEEP_EVERY_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async sweep(): Promise<void> {
    try {
      const deleted = await this.store.deleteExpired(new Date());
      if (deleted > 0) this.log.log(`deleted ${deleted} stored responses past their retention`);
    } catch (error) {
      this.log.warn(`could not delete expired responses: ${(error as Error).message}`);
    }
  }
}
