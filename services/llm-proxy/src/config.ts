import { z } from 'zod';

/**
 * llm-proxy's own settings (SPEC section 6), besides the bus, the database and config.yaml (model_list, and
 * general_settings.maximum_spend_logs_retention_period for its stored rows).
 */
export const LlmProxyEnv = {
  /** Model rounds of one request when the gateway runs tools itself; the last round lets the model call none. */
  LLM_MAX_TOOL_ROUNDS: z.coerce.number().int().min(1).max(50).default(5),
};
