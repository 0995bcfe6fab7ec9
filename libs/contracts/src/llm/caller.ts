import { z } from 'zod';

/** Who is calling, as the edge authenticated it: what llm-proxy needs to audit, account usage and own stored responses. */
export const LlmCaller = z.object({
  /** sha256 (hex) of the key; null for the master key. */
  token_hash: z.string().nullable(),
  key_alias: z.string().nullable(),
  user_id: z.string().nullable(),
  team_id: z.string().nullable(),
  organization_id: z.string().nullable(),
});
export type LlmCaller = z.infer<typeof LlmCaller>;
