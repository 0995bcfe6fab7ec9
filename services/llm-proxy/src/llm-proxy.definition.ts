import { busService, required, type ServiceDefinition } from '#libs/runtime';
import { LlmProxyEnv } from './config.js';
import { openLlmProxyDatabase } from './database.js';
import { LlmProxyModule } from './llm-proxy.module.js';
import { ResponseTableRepository } from './responses/response-table.repository.js';
import { SpendTableRepository } from './usage/spend-table.repository.js';

/** OpenAI-compatible LLM endpoints, answered on the bus for the edge; owns stored responses and usage rows. */
export const llmProxyDefinition: ServiceDefinition<typeof LlmProxyEnv> = {
  name: 'llm-proxy',
  env: LlmProxyEnv,
  needs: { database: true },
  start: busService(async ({ settings, infrastructure }) => {
    const general = settings.file.config.general_settings;
    const dataSource = await openLlmProxyDatabase(required(infrastructure.database, 'database'));
    return LlmProxyModule.register({
      bus: infrastructure.bus,
      models: settings.file.config.model_list,
      responses: new ResponseTableRepository(dataSource),
      spend: new SpendTableRepository(dataSource),
      maxToolRounds: settings.env.LLM_MAX_TOOL_ROUNDS,
      upstreamRules: { blocked: general.mcp_blocked_ip_ranges, allowed: general.mcp_allowed_ip_ranges },
      retention: {
        periodMs: general.maximum_spend_logs_retention_period,
        intervalMs: general.maximum_spend_logs_retention_interval ?? 3_600_000,
        firstRunDelayMs: 60_000,
      },
      close: () => dataSource.destroy(),
    });
  }),
};
