import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { WriteAudit } from '#libs/contracts';
import { AuditService } from './audit.service.js';

/** Queue group that stores each WriteAudit batch once, whatever the number of auth replicas. */
export const AUDIT_QUEUE_GROUP = 'auth';

/** Consumes WriteAudit in a queue group: each batch is stored once, by one auth replica. */
@Injectable()
export class AuditConsumer implements OnModuleInit, OnModuleDestroy {
  private unsubscribe: (() => void) | null = null;

  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.bus.subscribe(WriteAudit, (batch) => this.audit.enqueue(batch), { queue: AUDIT_QUEUE_GROUP });
  }

  async onModuleDestroy(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.audit.flush();
  }
}
