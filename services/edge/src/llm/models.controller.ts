import { Controller, Get, Inject, UseGuards } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { ListModels } from '#libs/contracts';
import { ApiKeyGuard } from '../auth/api-key.guard.js';

/** OpenAI-compatible model listing, answered by llm-proxy from `model_list`. */
@Controller()
@UseGuards(ApiKeyGuard)
export class ModelsController {
  constructor(@Inject(Bus) private readonly bus: Bus) {}

  @Get(['v1/models', 'models'])
  list() {
    return this.bus.call(ListModels, {}, { timeoutMs: 5_000 });
  }
}
