import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { AuditRecord, QueryAuditRequest } from '#libs/contracts';
import type { z } from 'zod';
import { AUDIT_BATCH_OPTIONS, type AuditBatchOptions } from '../tokens.js';
import { AuditRepository } from './audit.repository.js';

type Query = z.output<typeof QueryAuditRequest>;

/** Hard cap on buffered records while the database is failing; older records beyond it are dropped (and logged). */
const MAX_BUFFER = 50_000;

/**
 * Batches audit records: a flush happens `flushIntervalMs` after the first buffered record or as soon as
 * `maxBatch` records are waiting, whichever comes first. Flushes run one at a time; a failed insert puts its
 * records back for the next flush. On shutdown the buffer is flushed.
 */
@Injectable()
export class AuditService implements OnModuleDestroy {
  private readonly log = new Logger(AuditService.name);
  private buffer: AuditRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private dropped = 0;

  constructor(
    @Inject(AuditRepository) private readonly repository: AuditRepository,
    @Inject(AUDIT_BATCH_OPTIONS) private readonly options: AuditBatchOptions,
  ) {}

  enqueue(records: readonly AuditRecord[]): void {
    this.buffer.push(...records);
    if (this.buffer.length > MAX_BUFFER) {
      const over = this.buffer.length - MAX_BUFFER;
      this.buffer.splice(0, over);
      this.dropped += over;
      this.log.error(`audit buffer full: dropped ${over} record(s) (${this.dropped} in total)`);
    }
    if (this.buffer.length >= this.options.maxBatch) void this.flush();
    else if (!this.timer) this.timer = setTimeout(() => void this.flush(), this.options.flushIntervalMs);
  }

  /** Writes everything buffered so far; resolves when it is stored (or has failed and been re-buffered). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() => this.write(batch));
    return this.flushing;
  }

  private async write(batch: AuditRecord[]): Promise<void> {
    for (let i = 0; i < batch.length; i += this.options.maxBatch) {
      const chunk = batch.slice(i, i + this.options.maxBatch);
      try {
        await this.repository.insertMany(chunk);
      } catch (error) {
        const rest = batch.slice(i);
        this.log.error(`audit insert of ${rest.length} record(s) failed, will retry: ${(error as Error).message}`);
        this.buffer.unshift(...rest);
        if (!this.timer) this.timer = setTimeout(() => void this.flush(), Math.max(this.options.flushIntervalMs, 1000));
        return;
      }
    }
  }

  async query(request: Query) {
    const { page: requestedPage, page_size: requestedSize, ...filter } = request;
    const page = requestedPage ?? 1;
    const page_size = requestedSize ?? 50;
    const { rows, total } = await this.repository.query(filter, (page - 1) * page_size, page_size);
    return { rows, total, page, page_size };
  }

  async onModuleDestroy(): Promise<void> {
    await this.flush();
  }
}
