import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from '@nats-io/transport-node';
import { BusClient } from '#libs/bus';
import { WriteAudit } from '#libs/contracts';
import { AuditService } from './audit.service.js';

/** NATS queue group that stores each WriteAudit batch once, whatever the number of auth replicas. */
export const AUDIT_QUEUE_GROUP = 'auth';

/**
 * Consumes WriteAudit in a queue group. BusClient.subscribe broadcasts to every replica (right for cache
 * invalidation, wrong here), so this subscribes on the connection directly with the contract's schema.
 */
@Injectable()
export class AuditConsumer implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(AuditConsumer.name);
  private subscription: Subscription | null = null;

  constructor(
    @Inject(BusClient) private readonly bus: BusClient,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  onModuleInit(): void {
    this.subscription = this.bus.connection.subscribe(this.bus.subject(WriteAudit.subject), {
      queue: AUDIT_QUEUE_GROUP,
      callback: (err, msg) => {
        if (err) return;
        const parsed = WriteAudit.payload.safeParse(safeJson(() => msg.json()));
        if (!parsed.success) {
          this.log.warn(`dropped a malformed WriteAudit batch: ${parsed.error.issues[0]?.message ?? 'not JSON'}`);
          return;
        }
        this.audit.enqueue(parsed.data);
      },
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.subscription?.unsubscribe();
    this.subscription = null;
    await this.audit.flush();
  }
}

function safeJson(read: () => unknown): unknown {
  try {
    return read();
  } catch {
    return undefined;
  }
}
