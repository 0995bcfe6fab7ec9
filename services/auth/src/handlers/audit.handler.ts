import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RpcHandler } from '#libs/bus';
import { QueryAudit } from '#libs/contracts';
import type { z } from 'zod';
import { AuditService } from '../audit/audit.service.js';

/** QueryAudit only: WriteAudit is an event consumed by AuditConsumer in a queue group. */
@Controller()
export class AuditHandler {
  constructor(@Inject(AuditService) private readonly audit: AuditService) {}

  @RpcHandler(QueryAudit)
  query(@Payload() request: z.output<typeof QueryAudit.request>) {
    return this.audit.query(request);
  }
}
