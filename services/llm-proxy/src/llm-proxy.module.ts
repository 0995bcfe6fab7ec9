import { Module, type DynamicModule } from '@nestjs/common';
import type { ModelEntry } from '#libs/config';
import { ModelsHandler } from './handlers/models.handler.js';
import { MODEL_LIST, ModelsService } from './models/models.service.js';

@Module({})
export class LlmProxyModule {
  static register(deps: { models: readonly ModelEntry[] }): DynamicModule {
    return {
      module: LlmProxyModule,
      controllers: [ModelsHandler],
      providers: [{ provide: MODEL_LIST, useValue: deps.models }, ModelsService],
    };
  }
}
