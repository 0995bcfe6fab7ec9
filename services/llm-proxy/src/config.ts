import { z } from 'zod';

/** llm-proxy's own settings (SPEC sections 6 and 7), besides the bus, the database and config.yaml's model_list. */
export const LlmProxyEnv = {
  /** Model rounds of one request when the gateway runs tools itself; the last round lets the model call none. */
  LLM_MAX_TOOL_ROUNDS: z.coerce.number().int().min(1).max(50).default(5),
  /** How long stored responses (previous_response_id, GET /v1/responses/{id}) are kept. */
  LLM_RESPONSES_RETENTION_DAYS: z.coerce.number().positive().default(30),
};
