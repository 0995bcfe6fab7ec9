import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { z } from 'zod';
import { RpcHandler } from '#libs/bus';
import { GetKeySpend, QuerySpendLogs } from '#libs/contracts';
import { SpendService } from '../usage/spend.service.js';

@Controller()
export class SpendHandler {
  constructor(@Inject(SpendService) private readonly spend: SpendService) {}

  @RpcHandler(QuerySpendLogs)
  logs(@Payload() request: z.output<typeof QuerySpendLogs.request>) {
    return this.spend.logs(request);
  }

  @RpcHandler(GetKeySpend)
  byKey(@Payload() request: z.output<typeof GetKeySpend.request>) {
    return this.spend.byKey(request.tokens);
  }
}
