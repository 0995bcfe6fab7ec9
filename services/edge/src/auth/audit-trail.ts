import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { WriteAudit, type AuditRecord } from '#libs/contracts';
import { Metrics } from '#libs/observability';

const FLUSH_EVERY_MS = 200;
const MAX_BATCH = 500;

/** Collects tool-call records (counted in the metrics) and publishes them in batches: auditing never waits on a database. */
@Injectable()
export class AuditTrail implements OnModuleDestroy {
  private batch: AuditRecord[] = [];
  private timer?: NodeJS.Timeout;

  constructor(@Inject(Bus) private readonly bus: Bus) {}

  record(entry: AuditRecord): void {
    Metrics.toolCalls.inc({ server: entry.server_name, tool: entry.tool, outcome: entry.status });
    Metrics.toolCallDuration.observe({ server: entry.server_name, outcome: entry.status }, entry.duration_ms / 1000);
    this.batch.push(entry);
    if (this.batch.length >= MAX_BATCH) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_EVERY_MS);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.bus.publish(WriteAudit, batch);
  }

  onModuleDestroy(): void {
    this.flush();
  }
}
