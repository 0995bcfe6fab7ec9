import { Controller, Inject } from '@nestjs/common';
import { RpcHandler } from '#libs/bus';
import { ListModels, pingContract } from '#libs/contracts';
import { ModelsService } from '../models/models.service.js';

@Controller()
export class ModelsHandler {
  constructor(@Inject(ModelsService) private readonly models: ModelsService) {}

  @RpcHandler(ListModels)
  list() {
    return this.models.list();
  }

  @RpcHandler(pingContract('llm-proxy'))
  ping() {
    return { service: 'llm-proxy' as const, checks: { bus: true } };
  }
}
