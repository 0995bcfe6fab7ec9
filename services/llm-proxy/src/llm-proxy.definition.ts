import { busService, type ServiceDefinition } from '#libs/runtime';
import { LlmProxyEnv } from './config.js';
import { LlmProxyModule } from './llm-proxy.module.js';

/** OpenAI-compatible LLM endpoints, answered on the bus for the edge. */
export const llmProxyDefinition: ServiceDefinition<typeof LlmProxyEnv> = {
  name: 'llm-proxy',
  env: LlmProxyEnv,
  needs: {},
  start: busService(async ({ settings }) => LlmProxyModule.register({ models: settings.file.config.model_list })),
};
