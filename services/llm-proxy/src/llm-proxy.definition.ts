import { busService, required, type ServiceDefinition } from '#libs/runtime';
import { LlmProxyEnv } from './config.js';
import { openLlmProxyDatabase } from './database.js';
import { LlmProxyModule } from './llm-proxy.module.js';
import { ResponseTableRepository } from './responses/response-table.repository.js';
import { SpendTableRepository } from './usage/spend-table.repository.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** OpenAI-compatible LLM endpoints, answered on the bus for the edge; owns stored responses and usage rows. */
export const llmProxyDefinition: ServiceDefinition<typeof LlmProxyEnv> = {
  name: 'llm-proxy',
  env: LlmProxyEnv,
  needs: { database: true },
  start: busService(async ({ settings, infrastructure }) => {
    const dataSource = await openLlmProxyDatabase(required(infrastructure.database, 'database'));
    return LlmProxyModule.register({
      bus: infrastructure.bus,
      models: settings.file.config.model_list,
      responses: new ResponseTableRepository(dataSource),
      spend: new SpendTableRepository(dataSource),
      maxToolRounds: settings.env.LLM_MAX_TOOL_ROUNDS,
      responseRetentionMs: settings.env.LLM_RESPONSES_RETENTION_DAYS * DAY_MS,
      close: () => dataSource.destroy(),
    });
  }),
};
