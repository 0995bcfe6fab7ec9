import { z } from 'zod';
import { defineContract, defineEvent } from '../contract.js';
import { Subjects } from '../subjects.js';
import { LlmCaller } from './caller.js';
import { McpGrant } from './mcp-tools.js';

/** One OpenAI-compatible request as the edge received it, with the caller and the MCP tools it may use. */
export const LlmRequest = z.object({
  caller: LlmCaller,
  /** The JSON body, validated by llm-proxy (errors name the field). */
  body: z.record(z.string(), z.unknown()),
  /** One per `{"type": "mcp"}` entry of `body.tools`. */
  mcp: z.array(McpGrant).default([]),
  /** Names the request in LlmRequestCancelled (random, from the edge). */
  cancel_id: z.string().min(16).max(64).optional(),
});
export type LlmRequest = z.input<typeof LlmRequest>;

/**
 * A non-streaming call replies with `body`. A streaming one first streams its server-sent events as messages, each
 * carrying one or more events as the text the edge writes to the client (`sse`; events that arrive together travel
 * in one message), then replies without a body. An error before the first event is thrown (DomainError;
 * `details.http_status` is the status to answer, e.g. the provider's, and `details.param` the field); after it,
 * the stream carries the error instead.
 */
export const LlmStreamEvent = z.object({ sse: z.string() });
export type LlmStreamEvent = z.infer<typeof LlmStreamEvent>;
export const LlmReply = z.object({ body: z.unknown().optional() });

export const CreateChatCompletion = defineContract('CreateChatCompletion', Subjects.llm.chatCompletions, LlmRequest, LlmReply, LlmStreamEvent);
export const CreateResponse = defineContract('CreateResponse', Subjects.llm.createResponse, LlmRequest, LlmReply, LlmStreamEvent);

/** GET /v1/responses/{id}: a stored response, only for the key that created it (NOT_FOUND otherwise). */
export const GetResponse = defineContract(
  'GetResponse',
  Subjects.llm.getResponse,
  z.object({ caller: LlmCaller, id: z.string().min(1) }),
  z.object({ body: z.unknown() }),
);

/**
 * The client of an LLM request disconnected before its answer was complete: the replica running it aborts the
 * provider request (no more tokens generated and paid for) and runs no further tool or model turn.
 */
export const LlmRequestCancelled = defineEvent('LlmRequestCancelled', Subjects.llm.requestCancelled, z.object({ cancel_id: z.string() }));
