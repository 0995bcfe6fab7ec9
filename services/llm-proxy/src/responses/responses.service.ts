import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type LlmCaller, type LlmStreamEvent } from '#libs/contracts';
import type { ChatCall } from '../chat/chat.service.js';
import { errorBody, sumUsage } from '../chat/chat.service.js';
import { EventSink } from '../chat/event-sink.js';
import type { ModelTurn } from '../chat/model-turn.js';
import { invalidRequest, parseOrThrow } from '../chat/request-errors.js';
import { ToolLoop, type ApprovalDecision } from '../chat/tool-loop.js';
import { ModelClient } from '../models/model-client.js';
import type { ChatFunctionTool, ChatMessage, ChatRequest, ChatToolChoice } from '../providers/chat-types.js';
import { McpToolbox } from '../tools/mcp-toolbox.js';
import { RemoteMcp } from '../tools/remote-mcp.js';
import { UsageService } from '../usage/usage.service.js';
import { newId, ResponseBuilder } from './response-builder.js';
import { convertInput } from './response-input.js';
import { ResponseBodySchema, ResponseFunctionToolSchema, type ResponseBody } from './response-schemas.js';
import { ResponseStore, type StoredResponse } from './response-store.js';

/**
 * POST /v1/responses on top of the chat tool loop: input items become chat messages, what happens becomes
 * output items, and the response is stored (unless `store: false`) so that `previous_response_id` continues it,
 * including after tools the gateway ran and with answers to its approval requests. They are kept for
 * general_settings.maximum_spend_logs_retention_period (RetentionService), only for the key that created them.
 */
@Injectable()
export class ResponsesService {
  constructor(
    @Inject(ModelClient) private readonly models: ModelClient,
    @Inject(ToolLoop) private readonly loop: ToolLoop,
    @Inject(UsageService) private readonly usage: UsageService,
    @Inject(ResponseStore) private readonly store: ResponseStore,
    @Inject(RemoteMcp) private readonly remote: RemoteMcp,
  ) {}

  /** `signal`: aborted when the client went away (the provider request closes, no further turn runs). */
  async create(call: ChatCall, send: (event: LlmStreamEvent) => void, signal?: AbortSignal): Promise<{ body?: unknown }> {
    const body = parseOrThrow(ResponseBodySchema, call.body);
    const model = this.models.assertKnown(body.model);
    const clientTools = (body.tools ?? []).flatMap((tool, i): ChatFunctionTool[] => {
      if (tool.type === 'mcp') return [];
      if (tool.type !== 'function') throw invalidRequest(`tools[${i}].type`, `"${tool.type}" tools are not supported by this gateway: expected "function" or "mcp"`);
      const fn = parseOrThrow(ResponseFunctionToolSchema, tool, `tools[${i}]`);
      return [{ type: 'function', function: { name: fn.name, ...(fn.description ? { description: fn.description } : {}), ...(fn.parameters ? { parameters: fn.parameters } : {}), ...(fn.strict != null ? { strict: fn.strict } : {}) } }];
    });
    const toolbox = await McpToolbox.open(body.tools, call.mcp, clientTools.map((t) => t.function.name), this.remote);
    try {
      return await this.respond(call, body, model, clientTools, toolbox, send, signal);
    } finally {
      await toolbox.close();
    }
  }

  private async respond(
    call: ChatCall,
    body: ResponseBody,
    model: string,
    clientTools: ChatFunctionTool[],
    toolbox: McpToolbox,
    send: (event: LlmStreamEvent) => void,
    signal: AbortSignal | undefined,
  ) {
    const previous = body.previous_response_id ? await this.continued(body.previous_response_id, call.caller) : undefined;
    const input = convertInput(body.input, toolbox);
    const approvals = this.decisions(previous, input.answers, toolbox);
    if (input.messages.length === 0 && approvals.length === 0) throw invalidRequest('input', 'expected a string or at least one input item');

    const instructions: ChatMessage[] = body.instructions ? [{ role: 'system', content: body.instructions }] : [];
    const request: ChatRequest = {
      model,
      messages: input.messages,
      ...(clientTools.length ? { tools: clientTools } : {}),
      ...chatParameters(body, toolbox),
    };
    const id = newId('resp');
    const started = Date.now();
    const stream = body.stream === true;
    const sink = new EventSink(send);
    const builder = new ResponseBuilder(echoed(body, id, started), toolbox, stream ? sink : undefined);
    const turns: ModelTurn[] = [];
    builder.start();
    builder.listTools();
    try {
      const result = await this.loop.run({
        model,
        request,
        history: [...instructions, ...(previous?.conversation ?? [])],
        approvals,
        toolbox,
        caller: call.caller,
        requestId: id,
        stream,
        mode: 'responses',
        observer: builder,
        signal,
      });
      turns.push(...result.turns);
      const response = builder.complete(sumUsage(result.turns));
      if (body.store !== false) {
        await this.store.save({
          id,
          owner: ownerOf(call.caller),
          response,
          // Instructions are not carried over to a follow-up (as on OpenAI's API): it brings its own.
          conversation: result.messages.slice(instructions.length),
          pending: builder.approvals,
          createdAt: new Date(started),
        });
      }
      this.usage.record({ caller: call.caller, requestId: id, callType: 'responses', modelGroup: model, turns, started, status: 'success' });
      return stream ? {} : { body: response };
    } catch (error) {
      this.usage.record({ caller: call.caller, requestId: id, callType: 'responses', modelGroup: model, turns, started, status: 'failure' });
      if (!sink.started) throw error;
      builder.fail(errorBody(error));
      return {};
    } finally {
      sink.flush();
    }
  }

  /** GET /v1/responses/{id}: only the key that created it sees it. */
  async get(caller: LlmCaller, id: string): Promise<{ body: unknown }> {
    const stored = await this.store.find(id);
    if (!stored || stored.owner !== ownerOf(caller)) {
      throw new DomainError('NOT_FOUND', `no stored response "${id}" for this key`, { param: 'response_id', code: 'response_not_found', type: 'invalid_request_error' });
    }
    return { body: stored.response };
  }

  private async continued(id: string, caller: LlmCaller): Promise<StoredResponse> {
    const stored = await this.store.find(id);
    if (!stored || stored.owner !== ownerOf(caller)) {
      throw invalidRequest('previous_response_id', `no stored response "${id}" for this key (unknown, expired, or created with store: false)`, 'previous_response_not_found');
    }
    return stored;
  }

  /** Every approval request of the previous response gets a decision: the caller's, or "declined" when it gave none. */
  private decisions(previous: StoredResponse | undefined, answers: ReturnType<typeof convertInput>['answers'], toolbox: McpToolbox): ApprovalDecision[] {
    const pending = previous?.pending ?? [];
    for (const [id, answer] of answers) {
      if (!pending.some((p) => p.approval_request_id === id)) {
        throw invalidRequest(`input[${answer.index}].approval_request_id`, `"${id}" is not an approval request of previous_response_id`);
      }
    }
    return pending.map((p) => {
      const answer = answers.get(p.approval_request_id);
      return {
        call: p.call,
        offered: toolbox.byLabel(p.server_label, p.name),
        approvalRequestId: p.approval_request_id,
        approve: answer?.approve ?? false,
        reason: answer ? answer.reason : 'no mcp_approval_response was sent for this call',
      };
    });
  }
}

function ownerOf(caller: LlmCaller): string {
  return caller.token_hash ?? 'master';
}

/** Responses parameters in chat terms. */
function chatParameters(body: ResponseBody, toolbox: McpToolbox): Partial<ChatRequest> {
  const format = body.text?.format as { type: string; name?: string; schema?: unknown; strict?: boolean } | undefined;
  return {
    ...(body.temperature != null ? { temperature: body.temperature } : {}),
    ...(body.top_p != null ? { top_p: body.top_p } : {}),
    ...(body.max_output_tokens != null ? { max_tokens: body.max_output_tokens } : {}),
    ...(body.parallel_tool_calls != null ? { parallel_tool_calls: body.parallel_tool_calls } : {}),
    ...(body.user ? { user: body.user } : {}),
    ...(format?.type === 'json_schema' ? { response_format: { type: 'json_schema', json_schema: { name: format.name ?? 'response', schema: format.schema, strict: format.strict } } } : {}),
    ...(format?.type === 'json_object' ? { response_format: { type: 'json_object' } } : {}),
    ...toolChoice(body.tool_choice, toolbox),
  };
}

function toolChoice(choice: ResponseBody['tool_choice'], toolbox: McpToolbox): { tool_choice?: ChatToolChoice } {
  if (choice == null) return {};
  if (typeof choice === 'string') return { tool_choice: choice };
  const named = choice as { type: string; name?: string; server_label?: string };
  if (named.type === 'function' && named.name) return { tool_choice: { type: 'function', function: { name: named.name } } };
  const mcpName = named.type === 'mcp' && named.server_label && named.name ? toolbox.functionNameOf(named.server_label, named.name) : undefined;
  return mcpName ? { tool_choice: { type: 'function', function: { name: mcpName } } } : { tool_choice: 'required' };
}

/** The request's parameters as the response echoes them; MCP `headers` are left out (they may hold credentials). */
function echoed(body: ResponseBody, id: string, started: number): Record<string, unknown> {
  return {
    id,
    object: 'response',
    created_at: Math.floor(started / 1000),
    model: body.model,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    metadata: body.metadata ?? {},
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    temperature: body.temperature ?? 1,
    top_p: body.top_p ?? 1,
    tool_choice: body.tool_choice ?? 'auto',
    tools: (body.tools ?? []).map((t) => {
      if (t.type !== 'mcp') return t;
      const { headers: _headers, ...rest } = t as Record<string, unknown>;
      return rest;
    }),
    text: body.text ?? { format: { type: 'text' } },
    truncation: 'disabled',
    store: body.store !== false,
    user: body.user ?? null,
  };
}
