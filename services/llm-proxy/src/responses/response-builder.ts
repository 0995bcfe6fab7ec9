import { randomBytes } from 'node:crypto';
import type { EventSink } from '../chat/event-sink.js';
import type { LoopObserver, LoopStep, McpCallStep } from '../chat/tool-loop.js';
import type { ChatToolCall, ChatUsage } from '../providers/chat-types.js';
import type { McpToolbox } from '../tools/mcp-toolbox.js';
import type { PendingApproval } from './response-store.js';

export type OutputItem = Record<string, unknown> & { id: string; type: string };

export const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

/**
 * The output of one Responses call as OpenAI's API shapes it (mcp_list_tools, mcp_call, mcp_approval_request,
 * function_call and message items), built as the tool loop reports what happens. With a sink it also streams the
 * one event sequence the `openai` client parses: response.created, response.in_progress, per item
 * output_item.added … its own events … output_item.done, and a single response.completed (or response.failed).
 */
export class ResponseBuilder implements LoopObserver {
  readonly output: OutputItem[] = [];
  private sequence = 0;
  private openMessage?: { item: OutputItem; index: number; text: string };
  private readonly mcpItems = new Map<ChatToolCall, { item: OutputItem; index: number }>();
  /** The approval requests of this response, kept with it for the follow-up that answers them. */
  readonly approvals: PendingApproval[] = [];

  constructor(
    /** The response object without output, usage and status (id, model, created_at, echoed parameters). */
    private readonly base: Record<string, unknown>,
    private readonly toolbox: McpToolbox,
    private readonly sink?: EventSink,
  ) {}

  /** The response as it stands: `status` in_progress until completed. */
  snapshot(status: string, usage: ChatUsage | null, error: unknown = null): Record<string, unknown> {
    return {
      ...this.base,
      status,
      error,
      incomplete_details: null,
      output: this.output,
      usage: usage && {
        input_tokens: usage.prompt_tokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: usage.completion_tokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: usage.total_tokens,
      },
    };
  }

  start(): void {
    this.emit('response.created', { response: { ...this.snapshot('in_progress', null), output: [] } });
    this.emit('response.in_progress', { response: { ...this.snapshot('in_progress', null), output: [] } });
  }

  /** One mcp_list_tools item per MCP entry: what the model is offered there. */
  listTools(): void {
    for (const toolset of this.toolbox.toolsets) {
      const item: OutputItem = {
        id: newId('mcpl'),
        type: 'mcp_list_tools',
        server_label: toolset.label,
        tools: toolset.tools.map((t) => ({ name: t.name, description: t.description ?? null, input_schema: t.input_schema, annotations: t.annotations ?? null })),
        error: null,
      };
      const index = this.add(item);
      this.emit('response.mcp_list_tools.in_progress', { item_id: item.id, output_index: index });
      this.emit('response.mcp_list_tools.completed', { item_id: item.id, output_index: index });
      this.done(item, index);
    }
  }

  textDelta(delta: string): void {
    if (!this.openMessage) {
      const item: OutputItem = { id: newId('msg'), type: 'message', role: 'assistant', status: 'in_progress', content: [] };
      const index = this.add(item);
      this.openMessage = { item, index, text: '' };
      this.emit('response.content_part.added', { item_id: item.id, output_index: index, content_index: 0, part: outputText('') });
    }
    this.openMessage.text += delta;
    this.emit('response.output_text.delta', { item_id: this.openMessage.item.id, output_index: this.openMessage.index, content_index: 0, delta, logprobs: [] });
  }

  textDone(text: string): void {
    const open = this.openMessage ?? { item: { id: newId('msg'), type: 'message', role: 'assistant', status: 'in_progress', content: [] }, index: -1, text };
    this.openMessage = undefined;
    const part = outputText(text);
    Object.assign(open.item, { status: 'completed', content: [part] });
    if (open.index < 0) {
      open.index = this.add(open.item);
      this.emit('response.content_part.added', { item_id: open.item.id, output_index: open.index, content_index: 0, part: outputText('') });
      this.emit('response.output_text.delta', { item_id: open.item.id, output_index: open.index, content_index: 0, delta: text, logprobs: [] });
    }
    this.emit('response.output_text.done', { item_id: open.item.id, output_index: open.index, content_index: 0, text, logprobs: [] });
    this.emit('response.content_part.done', { item_id: open.item.id, output_index: open.index, content_index: 0, part });
    this.done(open.item, open.index);
  }

  toolStarted(step: McpCallStep): void {
    const item: OutputItem = {
      id: newId('mcp'),
      type: 'mcp_call',
      server_label: step.offered?.toolset.label ?? this.toolbox.toolsets[0]?.label ?? '',
      name: step.offered?.tool.name ?? step.call.function.name,
      arguments: step.call.function.arguments,
      approval_request_id: step.approvalRequestId ?? null,
      output: null,
      error: null,
      status: 'in_progress',
    };
    const index = this.add({ ...item, arguments: '' });
    this.output[index] = item;
    this.mcpItems.set(step.call, { item, index });
    this.emit('response.mcp_call_arguments.delta', { item_id: item.id, output_index: index, delta: step.call.function.arguments });
    this.emit('response.mcp_call_arguments.done', { item_id: item.id, output_index: index, arguments: step.call.function.arguments });
    this.emit('response.mcp_call.in_progress', { item_id: item.id, output_index: index });
  }

  toolDone(step: McpCallStep): void {
    const started = this.mcpItems.get(step.call);
    if (!started) return;
    const { item, index } = started;
    const failed = step.outcome.error !== undefined;
    Object.assign(item, { status: failed ? 'failed' : 'completed', output: failed ? null : step.outcome.output, error: failed ? step.outcome.error : null });
    this.emit(failed ? 'response.mcp_call.failed' : 'response.mcp_call.completed', { item_id: item.id, output_index: index });
    this.done(item, index);
  }

  /** Approval requests and the caller's own function calls, at the end. */
  pending(steps: LoopStep[]): void {
    for (const step of steps) {
      if (step.kind === 'approval') {
        const item: OutputItem = {
          id: newId('mcpr'),
          type: 'mcp_approval_request',
          server_label: step.offered.toolset.label,
          name: step.offered.tool.name,
          arguments: step.call.function.arguments,
        };
        this.done(item, this.add(item));
        this.approvals.push({ approval_request_id: item.id, server_label: step.offered.toolset.label, name: step.offered.tool.name, call: step.call });
      } else if (step.kind === 'client_call') {
        const item: OutputItem = { id: newId('fc'), type: 'function_call', call_id: step.call.id, name: step.call.function.name, arguments: step.call.function.arguments, status: 'completed' };
        const index = this.add({ ...item, arguments: '' });
        this.output[index] = item;
        this.emit('response.function_call_arguments.delta', { item_id: item.id, output_index: index, delta: step.call.function.arguments });
        this.emit('response.function_call_arguments.done', { item_id: item.id, output_index: index, name: item.name, arguments: step.call.function.arguments });
        this.done(item, index);
      }
    }
  }

  complete(usage: ChatUsage): Record<string, unknown> {
    const response = this.snapshot('completed', usage);
    this.emit('response.completed', { response });
    return response;
  }

  fail(error: { code: string | null; message: string }): Record<string, unknown> {
    const response = this.snapshot('failed', null, { code: error.code ?? 'server_error', message: error.message });
    this.emit('response.failed', { response });
    return response;
  }

  private add(item: OutputItem): number {
    this.output.push(item);
    const index = this.output.length - 1;
    this.emit('response.output_item.added', { output_index: index, item: structuredClone(item) });
    return index;
  }

  private done(item: OutputItem, index: number): void {
    this.emit('response.output_item.done', { output_index: index, item: structuredClone(item) });
  }

  private emit(type: string, fields: Record<string, unknown>): void {
    if (!this.sink) return;
    this.sink.data({ type, sequence_number: this.sequence++, ...fields }, type);
  }
}

function outputText(text: string) {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}
