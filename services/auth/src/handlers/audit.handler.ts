import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RpcHandler } from '#libs/bus';
import { QueryAudit, WriteAudit } from '#libs/contracts';
import type { z } from 'zod';
import { AuditService } from '../audit/audit.service.js';

/** The audit log: batches from the edges and llm-proxy (one auth replica accepts each), and its queries. */
@Controller()
export class AuditHandler {
  constructor(@Inject(AuditService) private readonly audit: AuditService) {}

  /** Accepted into the write buffer at once (stored within 200 ms, kept and retried while Postgres is away). */
  @RpcHandler(WriteAudit)
  write(@Payload() batch: z.output<typeof WriteAudit.request>) {
    this.audit.enqueue(batch);
    return { accepted: batch.length };
  }

  @RpcHandler(QueryAudit)
  query(@Payload() request: z.output<typeof QueryAudit.request>) {
    return this.audit.query(request);
  }
}
