import { z } from 'zod';
import { defineContract } from '../contract.js';
import { Subjects } from '../subjects.js';

/** One LLM request's usage, LiteLLM's SpendLogs row shape (keys as sha256 hashes, never the key). */
export const SpendLogRow = z.object({
  request_id: z.string(),
  call_type: z.enum(['chat_completion', 'responses']),
  /** sha256 (hex) of the caller's key; null for the master key. */
  api_key: z.string().nullable(),
  key_alias: z.string().nullable(),
  user: z.string().nullable(),
  team_id: z.string().nullable(),
  organization_id: z.string().nullable(),
  /** The model_name the caller asked for, and the provider model that answered. */
  model_group: z.string(),
  model: z.string(),
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
  /** USD from model_list's input/output_cost_per_token; 0 when it gives no prices. */
  spend: z.number(),
  startTime: z.string(),
  endTime: z.string(),
  status: z.enum(['success', 'failure']),
});
export type SpendLogRow = z.infer<typeof SpendLogRow>;

/** GET /spend/logs: newest first; filters are exact except start_date (inclusive) and end_date (exclusive). */
export const QuerySpendLogsRequest = z.strictObject({
  /** A key's sha256 token (the edge turns a key given as `sk-…` into its token). */
  api_key: z.string().optional(),
  user_id: z.string().optional(),
  team_id: z.string().optional(),
  request_id: z.string().optional(),
  model: z.string().optional(),
  start_date: z.iso.datetime({ offset: true, message: 'expected an ISO-8601 time' }).or(z.iso.date()).optional(),
  end_date: z.iso.datetime({ offset: true, message: 'expected an ISO-8601 time' }).or(z.iso.date()).optional(),
  /** Default 100, at most 1000. */
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
export type QuerySpendLogsRequest = z.input<typeof QuerySpendLogsRequest>;

export const QuerySpendLogs = defineContract('QuerySpendLogs', Subjects.llm.querySpend, QuerySpendLogsRequest, z.array(SpendLogRow));

/** Total spend per key token (for `spend` in /key/info and /key/list). Unknown tokens get 0. */
export const GetKeySpend = defineContract(
  'GetKeySpend',
  Subjects.llm.keySpend,
  z.object({ tokens: z.array(z.string()).max(1000) }),
  z.object({ spend: z.record(z.string(), z.number()) }),
);
