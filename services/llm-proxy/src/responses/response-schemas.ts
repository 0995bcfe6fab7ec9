import { z } from 'zod';
import { FunctionName } from '../chat/chat-schemas.js';

/** A function tool in the Responses API's flat shape. */
export const ResponseFunctionToolSchema = z.looseObject({
  type: z.literal('function'),
  name: FunctionName,
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});

const ContentPart = z.looseObject({ type: z.string() });

/** An input item llm-proxy understands; unknown types are refused by name. */
export const InputItemSchema = z.looseObject({
  type: z.string().optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']).optional(),
  content: z.union([z.string(), z.array(ContentPart)]).optional(),
});

/** POST /v1/responses: what llm-proxy reads. */
export const ResponseBodySchema = z.looseObject({
  model: z.string({ error: 'expected the name of a model of model_list' }).min(1, 'expected the name of a model of model_list'),
  input: z.union([z.string(), z.array(InputItemSchema, { error: 'expected a string or an array of input items' })], { error: 'expected a string or an array of input items' }).optional(),
  instructions: z.string().nullish(),
  previous_response_id: z.string().min(1).nullish(),
  tools: z.array(z.looseObject({ type: z.string({ error: 'expected "function" or "mcp"' }) }), { error: 'expected an array of tools' }).nullish(),
  tool_choice: z.union([z.enum(['auto', 'none', 'required']), z.looseObject({ type: z.string() })]).nullish(),
  stream: z.boolean().nullish(),
  store: z.boolean().nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  user: z.string().nullish(),
  text: z.looseObject({ format: z.looseObject({ type: z.string() }).optional() }).nullish(),
});
export type ResponseBody = z.infer<typeof ResponseBodySchema>;
