import { z } from 'zod';

/** A function name every provider accepts. */
export const FunctionName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'expected at most 64 characters of a-z, A-Z, 0-9, _ and -');

const ToolCall = z.looseObject({
  id: z.string(),
  type: z.literal('function').default('function'),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

export const ChatMessageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string() })), z.null()]).optional(),
  tool_calls: z.array(ToolCall).optional(),
  tool_call_id: z.string().optional(),
});

export const ChatFunctionToolSchema = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: FunctionName,
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

export const ToolChoiceSchema = z.union([
  z.enum(['auto', 'none', 'required']),
  z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string() }) }),
]);

/** POST /v1/chat/completions: what llm-proxy reads; every other field passes to the provider as it is. */
export const ChatBodySchema = z.looseObject({
  model: z.string({ error: 'expected the name of a model of model_list' }).min(1, 'expected the name of a model of model_list'),
  messages: z.array(ChatMessageSchema, { error: 'expected an array of messages' }).min(1, 'expected at least one message'),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  tools: z.array(z.looseObject({ type: z.string({ error: 'expected "function" or "mcp"' }) }), { error: 'expected an array of tools' }).nullish(),
  tool_choice: ToolChoiceSchema.nullish(),
});
