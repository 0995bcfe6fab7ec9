import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { BatchSender, Bus } from '#libs/bus';
import { AUDIT_SENDING, WriteAudit, type AuditRecord } from '#libs/contracts';
import { Metrics } from '#libs/observability';

/**
 * Collects tool-call records (counted in the metrics) and sends them to auth in batches: auditing never waits on a
 * database, and records nobody accepted yet (every auth replica restarting) are sent again.
 */
@Injectable()
export class AuditTrail implements OnModuleDestroy {
  private readonly sender: BatchSender<typeof WriteAudit>;

  constructor(@Inject(Bus) bus: Bus) {
    this.sender = new BatchSender(bus, WriteAudit, AUDIT_SENDING);
  }

  record(entry: AuditRecord): void {
    Metrics.toolCalls.inc({ server: entry.server_name, tool: entry.tool, outcome: entry.status });
    Metrics.toolCallDuration.observe({ server: entry.server_name, outcome: entry.status }, entry.duration_ms / 1000);
    this.sender.add(entry);
  }

  flush(): Promise<void> {
    return this.sender.flush();
  }

  onModuleDestroy(): Promise<void> {
    return this.sender.close();
  }
}
