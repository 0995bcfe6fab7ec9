import type { Deployment } from '../models/deployments.js';
import { providerLabel, type ChatProvider } from './chat-provider.js';
import { contentText, type ChatChunk, type ChatCompletion, type ChatMessage, type ChatRequest, type ChatToolChoice } from './chat-types.js';
import { ProviderError } from './provider-error.js';
import { postJson, readJson, sseEvents, type ProviderRequest } from './provider-http.js';

const ANTHROPIC_VERSION = '2023-06-01';

type Block =
  | { type: 'text'; text: string }
  | { type: 'image'; source: { type: 'url'; url: string } | { type: 'base64'; media_type: string; data: string } }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; tool_use_id: string; content: string; is_error?: boolean };

interface AnthropicMessage {
  id: string;
  model: string;
  content: Block[];
  stop_reason: string | null;
  usage: { input_tokens: number; output_tokens: number; cache_read_input_tokens?: number; cache_creation_input_tokens?: number };
}

/** Anthropic's Messages API (`anthropic/…`), translated from and to the OpenAI chat format, tool calls and streams included. */
export class AnthropicProvider implements ChatProvider {
  async complete(deployment: Deployment, request: ChatRequest, signal?: AbortSignal): Promise<ChatCompletion> {
    const res = await postJson(this.request(deployment, request, false, signal));
    return toCompletion(await readJson<AnthropicMessage>(res, providerLabel(deployment)));
  }

  async stream(deployment: Deployment, request: ChatRequest, signal?: AbortSignal): Promise<AsyncIterable<ChatChunk>> {
    const res = await postJson(this.request(deployment, request, true, signal));
    return toChunks(sseEvents(res), providerLabel(deployment));
  }

  private request(deployment: Deployment, request: ChatRequest, stream: boolean, signal: AbortSignal | undefined): ProviderRequest {
    return {
      url: messagesUrl(deployment.apiBase),
      headers: { 'anthropic-version': ANTHROPIC_VERSION, ...(deployment.apiKey ? { 'x-api-key': deployment.apiKey } : {}) },
      body: toMessagesRequest(deployment, request, stream),
      timeoutMs: deployment.timeoutMs,
      apiKey: deployment.apiKey,
      label: providerLabel(deployment),
      signal,
    };
  }
}

/** LiteLLM's api_base for Anthropic is the host (`https://api.anthropic.com`); `…/v1` and the full path work too. */
function messagesUrl(apiBase: string): string {
  if (apiBase.endsWith('/v1/messages')) return apiBase;
  return apiBase.endsWith('/v1') ? `${apiBase}/messages` : `${apiBase}/v1/messages`;
}

export function toMessagesRequest(deployment: Deployment, request: ChatRequest, stream: boolean): Record<string, unknown> {
  const system = request.messages
    .filter((m) => m.role === 'system' || m.role === 'developer')
    .map((m) => contentText(m.content))
    .filter(Boolean)
    .join('\n\n');
  const stop = request.stop === undefined || request.stop === null ? undefined : Array.isArray(request.stop) ? request.stop : [request.stop];
  const toolChoice = toToolChoice(request.tool_choice, request.parallel_tool_calls);
  return {
    model: deployment.model,
    max_tokens: request.max_completion_tokens ?? request.max_tokens ?? deployment.defaultMaxTokens,
    messages: toMessages(request.messages),
    ...(system ? { system } : {}),
    ...(request.tools?.length
      ? {
          tools: request.tools.map((t) => ({
            name: t.function.name,
            ...(t.function.description ? { description: t.function.description } : {}),
            input_schema: t.function.parameters ?? { type: 'object', properties: {} },
          })),
          ...(toolChoice ? { tool_choice: toolChoice } : {}),
        }
      : {}),
    ...(typeof request.temperature === 'number' ? { temperature: request.temperature } : {}),
    ...(typeof request.top_p === 'number' ? { top_p: request.top_p } : {}),
    ...(stop ? { stop_sequences: stop } : {}),
    ...(request.user ? { metadata: { user_id: request.user } } : {}),
    ...(stream ? { stream: true } : {}),
  };
}

function toToolChoice(choice: ChatToolChoice | undefined, parallel: boolean | undefined): Record<string, unknown> | undefined {
  const noParallel = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined || choice === 'auto') return parallel === false ? { type: 'auto', ...noParallel } : undefined;
  if (choice === 'none') return { type: 'none' };
  if (choice === 'required') return { type: 'any', ...noParallel };
  return { type: 'tool', name: choice.function.name, ...noParallel };
}

/** Anthropic wants alternating user/assistant turns; tool results travel in a user turn. */
function toMessages(messages: ChatMessage[]): { role: 'user' | 'assistant'; content: Block[] }[] {
  const out: { role: 'user' | 'assistant'; content: Block[] }[] = [];
  const push = (role: 'user' | 'assistant', blocks: Block[]) => {
    if (blocks.length === 0) return;
    const last = out[out.length - 1];
    if (last?.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };
  for (const m of messages) {
    if (m.role === 'system' || m.role === 'developer') continue;
    if (m.role === 'tool') push('user', [{ type: 'tool_result', tool_use_id: String(m.tool_call_id), content: contentText(m.content) }]);
    else if (m.role === 'assistant') {
      const text = contentText(m.content);
      push('assistant', [
        ...(text ? [{ type: 'text' as const, text }] : []),
        ...(m.tool_calls ?? []).map((c) => ({ type: 'tool_use' as const, id: c.id, name: c.function.name, input: parseArguments(c.function.arguments) })),
      ]);
    } else push('user', userBlocks(m.content));
  }
  return out;
}

function userBlocks(content: ChatMessage['content']): Block[] {
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  return (content ?? []).flatMap((part): Block[] => {
    if (part.type === 'text' && typeof part.text === 'string') return [{ type: 'text', text: part.text }];
    if (part.type === 'image_url') {
      const url = String((part as { image_url: { url: string } }).image_url.url);
      const data = /^data:([^;]+);base64,(.*)$/s.exec(url);
      return [{ type: 'image', source: data ? { type: 'base64', media_type: data[1]!, data: data[2]! } : { type: 'url', url } }];
    }
    return [];
  });
}

function parseArguments(text: string): unknown {
  try {
    const value = JSON.parse(text || '{}');
    return value && typeof value === 'object' && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

const FINISH_REASONS: Record<string, string> = { end_turn: 'stop', stop_sequence: 'stop', max_tokens: 'length', tool_use: 'tool_calls', refusal: 'content_filter' };
const finishReason = (stop: string | null | undefined) => (stop ? (FINISH_REASONS[stop] ?? 'stop') : null);

function usageOf(input: number, output: number) {
  return { prompt_tokens: input, completion_tokens: output, total_tokens: input + output };
}

export function toCompletion(message: AnthropicMessage): ChatCompletion {
  const text = message.content.filter((b): b is Extract<Block, { type: 'text' }> => b.type === 'text').map((b) => b.text).join('');
  const toolCalls = message.content
    .filter((b): b is Extract<Block, { type: 'tool_use' }> => b.type === 'tool_use')
    .map((b) => ({ id: b.id, type: 'function' as const, function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } }));
  const input = message.usage.input_tokens + (message.usage.cache_read_input_tokens ?? 0) + (message.usage.cache_creation_input_tokens ?? 0);
  return {
    id: message.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: message.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text || null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
        finish_reason: finishReason(message.stop_reason) ?? 'stop',
        logprobs: null,
      },
    ],
    usage: usageOf(input, message.usage.output_tokens),
  };
}

/** Anthropic stream events → OpenAI chunks: text deltas, tool calls (by their own index), finish, usage. */
export async function* toChunks(events: AsyncIterable<{ event: string | undefined; data: string }>, label: string): AsyncGenerator<ChatChunk> {
  let id = '';
  let model = '';
  let inputTokens = 0;
  const created = Math.floor(Date.now() / 1000);
  const toolIndexByBlock = new Map<number, number>();
  const chunk = (delta: ChatChunk['choices'][number]['delta'], finish: string | null = null): ChatChunk => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  for await (const { data } of events) {
    let event: any;
    try {
      event = JSON.parse(data);
    } catch {
      throw new ProviderError('malformed', `${label} streamed an event that is not JSON`, 502);
    }
    switch (event.type) {
      case 'message_start': {
        id = event.message.id;
        model = event.message.model;
        const u = event.message.usage ?? {};
        inputTokens = (u.input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0);
        yield chunk({ role: 'assistant', content: '' });
        break;
      }
      case 'content_block_start':
        if (event.content_block?.type === 'tool_use') {
          const index = toolIndexByBlock.size;
          toolIndexByBlock.set(event.index, index);
          yield chunk({ tool_calls: [{ index, id: event.content_block.id, type: 'function', function: { name: event.content_block.name, arguments: '' } }] });
        }
        break;
      case 'content_block_delta':
        if (event.delta?.type === 'text_delta') yield chunk({ content: event.delta.text });
        else if (event.delta?.type === 'input_json_delta' && toolIndexByBlock.has(event.index)) {
          yield chunk({ tool_calls: [{ index: toolIndexByBlock.get(event.index)!, function: { arguments: event.delta.partial_json } }] });
        }
        break;
      case 'message_delta': {
        yield chunk({}, finishReason(event.delta?.stop_reason) ?? 'stop');
        const output = event.usage?.output_tokens ?? 0;
        yield { id, object: 'chat.completion.chunk', created, model, choices: [], usage: usageOf(inputTokens, output) };
        break;
      }
      case 'error':
        throw new ProviderError('http', `${label} failed while streaming: ${event.error?.message ?? 'unknown error'}`, event.error?.type === 'overloaded_error' ? 529 : 502);
      default:
        break; // ping, content_block_stop, message_stop
    }
  }
}
