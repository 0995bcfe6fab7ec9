import { runService } from '#libs/bus';
import { LlmProxyEnv } from './config.js';
import { LlmProxyModule } from './llm-proxy.module.js';

void runService({
  name: 'llm-proxy',
  env: LlmProxyEnv,
  createModule: async (settings) => LlmProxyModule.register({ models: settings.file.config.model_list }),
});
