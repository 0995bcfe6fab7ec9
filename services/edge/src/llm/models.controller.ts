import { Controller, Get, Inject, Req, UseFilters, UseGuards } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { ListModels } from '#libs/contracts';
import { ApiKeyGuard, type AuthenticatedRequest } from '../auth/api-key.guard.js';
import { UsageLimiter } from '../auth/usage-limiter.js';
import { mayUseModel } from './model-access.js';
import { OpenAiErrorFilter } from './openai-error.filter.js';

/** OpenAI-compatible model listing, answered by llm-proxy from `model_list`: the models this key may use. */
@Controller()
@UseGuards(ApiKeyGuard)
@UseFilters(OpenAiErrorFilter)
export class ModelsController {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(UsageLimiter) private readonly limits: UsageLimiter,
  ) {}

  @Get(['v1/models', 'models'])
  async list(@Req() req: AuthenticatedRequest) {
    const release = await this.limits.admit(req.principal);
    try {
      const list = await this.bus.call(ListModels, {}, { timeoutMs: 5_000 });
      return { ...list, data: list.data.filter((model) => mayUseModel(req.principal, model.id)) };
    } finally {
      release();
    }
  }
}
