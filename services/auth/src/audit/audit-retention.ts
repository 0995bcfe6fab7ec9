import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { CLOCK, RETENTION_OPTIONS, type Clock, type RetentionOptions } from '../tokens.js';
import { AuditRepository } from './audit.repository.js';

/** Rows deleted per statement: short transactions, so writers and readers of audit_log never wait long. */
const DELETE_BATCH = 5_000;

/**
 * Keeps the audit log to `general_settings.mcp_audit_log_retention_period`: a cleanup soon after start and then
 * every `maximum_spend_logs_retention_interval`, deleting in small batches with a yield between them, off the
 * request path. Without a retention period it does nothing.
 */
@Injectable()
export class AuditRetention implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(AuditRetention.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private stopped = false;

  constructor(
    @Inject(AuditRepository) private readonly audit: AuditRepository,
    @Inject(RETENTION_OPTIONS) private readonly options: RetentionOptions,
    @Inject(CLOCK) private readonly now: Clock,
  ) {}

  onModuleInit(): void {
    if (this.options.auditRetentionMs === undefined) return;
    const schedule = (delayMs: number) => {
      this.timer = setTimeout(() => {
        void this.cleanUp().finally(() => !this.stopped && schedule(this.options.intervalMs));
      }, delayMs);
      this.timer.unref();
    };
    schedule(this.options.firstRunDelayMs);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Deletes every row older than the retention period; returns how many. One run at a time. */
  cleanUp(): Promise<number> {
    this.running ??= this.deleteExpired().finally(() => (this.running = undefined));
    return this.running;
  }

  private async deleteExpired(): Promise<number> {
    const retention = this.options.auditRetentionMs;
    if (retention === undefined) return 0;
    const cutoff = new Date(this.now() - retention);
    let total = 0;
    try {
      for (;;) {
        const deleted = await this.audit.deleteOlderThan(cutoff, DELETE_BATCH);
        total += deleted;
        if (deleted < DELETE_BATCH || this.stopped) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (total > 0) this.log.log(`audit log: deleted ${total} row(s) older than ${cutoff.toISOString()} (retention ${Math.round(retention / 86_400_000)} d)`);
    } catch (error) {
      this.log.warn(`audit log cleanup failed (will try again): ${(error as Error).message}`);
    }
    return total;
  }
}
