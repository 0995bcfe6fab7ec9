import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type LlmCaller, type LlmStreamEvent, type McpGrant } from '#libs/contracts';
import { ModelClient } from '../models/model-client.js';
import type { ChatChunk, ChatCompletion, ChatFunctionTool, ChatRequest, ChatUsage } from '../providers/chat-types.js';
import { McpToolbox } from '../tools/mcp-toolbox.js';
import { RemoteMcp } from '../tools/remote-mcp.js';
import { UsageService } from '../usage/usage.service.js';
import { ChatBodySchema, ChatFunctionToolSchema } from './chat-schemas.js';
import { EventSink } from './event-sink.js';
import type { ModelTurn } from './model-turn.js';
import { invalidRequest, parseOrThrow } from './request-errors.js';
import { ToolLoop, type LoopResult } from './tool-loop.js';

export interface ChatCall {
  caller: LlmCaller;
  body: Record<string, unknown>;
  mcp: McpGrant[];
}

/**
 * POST /v1/chat/completions. Without MCP tools the request goes to the provider as it is (the model name
 * swapped). With MCP tools they are offered as function tools: calls that may run without approval run through
 * the gateway and the model is asked again; otherwise the calls come back as `tool_calls` for the client to run.
 * Streams carry the model's text as it comes, and the final answer after the tools the gateway ran.
 */
@Injectable()
export class ChatService {
  constructor(
    @Inject(ModelClient) private readonly models: ModelClient,
    @Inject(ToolLoop) private readonly loop: ToolLoop,
    @Inject(UsageService) private readonly usage: UsageService,
    @Inject(RemoteMcp) private readonly remote: RemoteMcp,
  ) {}

  /** `signal`: aborted when the client went away (the provider request closes, no further turn runs). */
  async create(call: ChatCall, send: (event: LlmStreamEvent) => void, signal?: AbortSignal): Promise<{ body?: unknown }> {
    const body = parseOrThrow(ChatBodySchema, call.body);
    const model = this.models.assertKnown(body.model);
    const clientTools = (body.tools ?? []).flatMap((tool, i): ChatFunctionTool[] => {
      if (tool.type === 'mcp') return [];
      if (tool.type !== 'function') throw invalidRequest(`tools[${i}].type`, `"${tool.type}" is not supported here: expected "function" or "mcp"`);
      return [parseOrThrow(ChatFunctionToolSchema, tool, `tools[${i}]`) as ChatFunctionTool];
    });
    const toolbox = await McpToolbox.open(body.tools, call.mcp, clientTools.map((t) => t.function.name), this.remote);
    const request = { ...body, tools: clientTools.length ? clientTools : undefined } as ChatRequest;
    const requestId = `chatcmpl-${randomBytes(12).toString('hex')}`;
    const started = Date.now();
    const sink = new EventSink(send);
    const turns: ModelTurn[] = [];
    try {
      const reply = toolbox.isEmpty
        ? await this.passThrough(model, request, sink, turns, signal)
        : await this.withTools(model, request, toolbox, call.caller, requestId, sink, turns, signal);
      this.usage.record({ caller: call.caller, requestId, callType: 'chat_completion', modelGroup: model, turns, started, status: 'success' });
      return reply;
    } catch (error) {
      this.usage.record({ caller: call.caller, requestId, callType: 'chat_completion', modelGroup: model, turns, started, status: 'failure' });
      if (!sink.started) throw error;
      sink.data({ error: errorBody(error) });
      return {};
    } finally {
      sink.flush();
      await toolbox.close();
    }
  }

  private async passThrough(model: string, request: ChatRequest, sink: EventSink, turns: ModelTurn[], signal: AbortSignal | undefined): Promise<{ body?: unknown }> {
    if (!request.stream) {
      const { completion, deployment } = await this.models.complete(model, request, signal);
      turns.push({ id: completion.id, model: completion.model, text: null, toolCalls: [], finishReason: 'stop', usage: completion.usage, deployment });
      return { body: completion };
    }
    const { chunks, deployment } = await this.models.stream(model, request, signal);
    const turn: ModelTurn = { id: '', model: deployment.model, text: null, toolCalls: [], finishReason: 'stop', usage: undefined, deployment };
    turns.push(turn);
    const wantsUsage = request.stream_options?.include_usage === true;
    for await (const chunk of chunks) {
      if (chunk.usage) turn.usage = chunk.usage;
      // Usage is always asked of the provider (spend); the client gets the usage chunk only when it asked too.
      if (chunk.choices?.length || wantsUsage) sink.data(chunk);
    }
    sink.data('[DONE]');
    return {};
  }

  private async withTools(
    model: string,
    request: ChatRequest,
    toolbox: McpToolbox,
    caller: LlmCaller,
    requestId: string,
    sink: EventSink,
    turns: ModelTurn[],
    signal: AbortSignal | undefined,
  ) {
    const stream = request.stream === true;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: ChatChunk['choices'][number]['delta'], finish: string | null = null): ChatChunk => ({
      id: requestId,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
    let roleSent = false;
    const textDelta = (content: string) => {
      if (!roleSent) sink.data(chunk({ role: 'assistant', content: '' }));
      roleSent = true;
      sink.data(chunk({ content }));
    };
    const result = await this.loop.run({
      model,
      request,
      toolbox,
      caller,
      requestId,
      stream,
      mode: 'chat',
      observer: stream ? { textDelta } : undefined,
      signal,
    });
    turns.push(...result.turns);
    const toolCalls = pendingCalls(result);
    const finishReason = toolCalls.length ? 'tool_calls' : result.last.finishReason;
    const usage = sumUsage(result.turns);
    if (!stream) {
      const completion: ChatCompletion = {
        id: requestId,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: result.last.text, refusal: null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
            logprobs: null,
            finish_reason: finishReason,
          },
        ],
        usage,
      };
      return { body: completion };
    }
    if (!roleSent) sink.data(chunk({ role: 'assistant', content: toolCalls.length ? null : '' }));
    toolCalls.forEach((c, index) => sink.data(chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.function.name, arguments: c.function.arguments } }] })));
    sink.data(chunk({}, finishReason));
    if (request.stream_options?.include_usage) sink.data({ ...chunk({}), choices: [], usage });
    sink.data('[DONE]');
    return {};
  }
}

function pendingCalls(result: LoopResult) {
  return result.steps.flatMap((s) => (s.kind === 'client_call' ? [s.call] : []));
}

export function sumUsage(turns: readonly ModelTurn[]): ChatUsage {
  const prompt = turns.reduce((n, t) => n + (t.usage?.prompt_tokens ?? 0), 0);
  const completion = turns.reduce((n, t) => n + (t.usage?.completion_tokens ?? 0), 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** The `error` object of an OpenAI-shaped error, for errors that happen once a stream has begun. */
export function errorBody(error: unknown): { message: string; type: string; param: string | null; code: string | null } {
  if (error instanceof DomainError) {
    return {
      message: error.message,
      type: typeof error.details?.type === 'string' ? error.details.type : error.code.toLowerCase(),
      param: typeof error.details?.param === 'string' ? error.details.param : null,
      code: typeof error.details?.code === 'string' ? error.details.code : null,
    };
  }
  return { message: 'internal error', type: 'internal', param: null, code: null };
}
