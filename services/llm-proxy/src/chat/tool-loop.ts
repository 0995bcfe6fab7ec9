import { Inject, Injectable, Logger } from '@nestjs/common';
import type { LlmCaller } from '#libs/contracts';
import { cancelledError, ModelClient } from '../models/model-client.js';
import type { ChatMessage, ChatRequest, ChatToolCall } from '../providers/chat-types.js';
import type { McpToolbox, OfferedTool } from '../tools/mcp-toolbox.js';
import { ToolRunner, type ToolOutcome } from '../tools/tool-runner.js';
import { turnFromChunks, turnFromCompletion, type ModelTurn } from './model-turn.js';

export const MAX_TOOL_ROUNDS = Symbol('MAX_TOOL_ROUNDS');

/** What the loop did, in order: the base of Chat's answer and of Responses' output items. */
export type LoopStep =
  | { kind: 'text'; text: string }
  /** An MCP tool the gateway ran (or refused to: an unknown name, a declined approval). */
  | { kind: 'mcp_call'; call: ChatToolCall; offered: OfferedTool | undefined; outcome: ToolOutcome; approvalRequestId?: string }
  /** An MCP tool call waiting for the caller's approval (Responses). */
  | { kind: 'approval'; call: ChatToolCall; offered: OfferedTool }
  /** A call the caller runs itself: its own function tools; on Chat, also MCP tools needing approval. */
  | { kind: 'client_call'; call: ChatToolCall };

export type McpCallStep = Extract<LoopStep, { kind: 'mcp_call' }>;

/** Reported while the loop runs, for streams. */
export interface LoopObserver {
  textDelta?(delta: string): void;
  /** The text of a round is complete (called only for rounds that produced text). */
  textDone?(text: string): void;
  toolStarted?(step: McpCallStep): void;
  toolDone?(step: McpCallStep): void;
  /** Calls returned to the caller (approvals, client calls), at the end. */
  pending?(steps: LoopStep[]): void;
}

/** An earlier call the caller answered with `mcp_approval_response`. */
export interface ApprovalDecision {
  call: ChatToolCall;
  offered: OfferedTool | undefined;
  approvalRequestId: string;
  approve: boolean;
  reason?: string | null;
}

export interface LoopInput {
  model: string;
  /** The request for the model, `messages` included; its `tools` are the caller's own function tools. */
  request: ChatRequest;
  toolbox: McpToolbox;
  caller: LlmCaller;
  requestId: string;
  stream: boolean;
  /**
   * 'chat': a round whose calls are not all runnable without approval goes back to the caller whole.
   * 'responses': what may run runs; the rest becomes approval requests and function calls.
   */
  mode: 'chat' | 'responses';
  /** Responses follow-ups: the stored conversation, which `request.messages` continues. */
  history?: ChatMessage[];
  /** Responses follow-ups: decisions on the previous response's approval requests, run before the model is asked. */
  approvals?: ApprovalDecision[];
  observer?: LoopObserver;
  /** Aborted when the client went away: the model request in flight closes and no further round or tool runs. */
  signal?: AbortSignal;
}

export interface LoopResult {
  messages: ChatMessage[];
  steps: LoopStep[];
  turns: ModelTurn[];
  last: ModelTurn;
}

/**
 * Asks the model, runs the MCP tools it calls (as the caller, through the connector) and asks again with their
 * results, until it answers without calls, a call needs the caller, or the round limit is reached: the last
 * round keeps the tools defined (Anthropic requires them when the history holds tool calls) but lets the model
 * call none (tool_choice none). Tool errors go back to the model as tool output.
 */
@Injectable()
export class ToolLoop {
  private readonly log = new Logger(ToolLoop.name);

  constructor(
    @Inject(ModelClient) private readonly models: ModelClient,
    @Inject(ToolRunner) private readonly runner: ToolRunner,
    @Inject(MAX_TOOL_ROUNDS) private readonly maxRounds: number,
  ) {}

  async run(input: LoopInput): Promise<LoopResult> {
    const { toolbox, observer } = input;
    const messages = [...(input.history ?? [])];
    const steps: LoopStep[] = [];
    const turns: ModelTurn[] = [];
    const clientNames = new Set((input.request.tools ?? []).map((t) => t.function.name));
    const tools = [...(input.request.tools ?? []), ...toolbox.functions()];

    for (const { call, offered, approvalRequestId, approve, reason } of input.approvals ?? []) {
      const refusal = !approve ? `the user declined this call${reason ? `: ${reason}` : ''}` : offered ? undefined : `${call.function.name} is not available in this request`;
      const step = await this.runCall(input, call, offered, refusal, approvalRequestId);
      steps.push(step);
      messages.push(toolMessage(call.id, step.outcome));
    }
    messages.push(...input.request.messages);

    for (let round = 1; ; round++) {
      if (input.signal?.aborted) throw cancelledError();
      const lastRound = round >= this.maxRounds;
      const request: ChatRequest = {
        ...input.request,
        messages,
        ...(tools.length ? { tools, tool_choice: lastRound ? 'none' : (input.request.tool_choice ?? 'auto') } : { tools: undefined }),
      };
      const turn = await this.ask(input, request);
      turns.push(turn);
      if (turn.text) {
        steps.push({ kind: 'text', text: turn.text });
        observer?.textDone?.(turn.text);
      }
      if (turn.toolCalls.length > 0 && lastRound) {
        this.log.warn(`request ${input.requestId}: the model still called tools after ${this.maxRounds} rounds; answering without them`);
        turn.toolCalls = [];
        turn.finishReason = 'stop';
      }
      messages.push(assistantMessage(turn));
      if (turn.toolCalls.length === 0) return { messages, steps, turns, last: turn };

      const classified = turn.toolCalls.map((call) => ({ call, ...this.classify(toolbox, clientNames, call) }));
      const waiting = classified.filter((c) => c.kind !== 'run');
      if (waiting.length > 0 && input.mode === 'chat') {
        const pending = turn.toolCalls.map((call): LoopStep => ({ kind: 'client_call', call }));
        steps.push(...pending);
        observer?.pending?.(pending);
        return { messages, steps, turns, last: turn };
      }
      if (input.signal?.aborted) throw cancelledError();
      // Calls of one round run concurrently; their steps and results keep the model's order.
      const ran = await Promise.all(
        classified
          .filter((c) => c.kind === 'run')
          .map(({ call, offered }) => this.runCall(input, call, offered, offered ? undefined : `tool "${call.function.name}" is not available: use one of the tools offered`)),
      );
      for (const step of ran) {
        steps.push(step);
        messages.push(toolMessage(step.call.id, step.outcome));
      }
      if (waiting.length > 0) {
        const pending = waiting.map(({ call, offered, kind }): LoopStep => (kind === 'approval' && offered ? { kind: 'approval', call, offered } : { kind: 'client_call', call }));
        steps.push(...pending);
        observer?.pending?.(pending);
        return { messages, steps, turns, last: turn };
      }
    }
  }

  private async ask(input: LoopInput, request: ChatRequest): Promise<ModelTurn> {
    if (!input.stream) {
      const { completion, deployment } = await this.models.complete(input.model, { ...request, stream: false, stream_options: undefined }, input.signal);
      return turnFromCompletion(completion, deployment);
    }
    const { chunks, deployment } = await this.models.stream(input.model, request, input.signal);
    return turnFromChunks(chunks, deployment, (delta) => input.observer?.textDelta?.(delta));
  }

  private classify(toolbox: McpToolbox, clientNames: ReadonlySet<string>, call: ChatToolCall): { kind: 'run' | 'approval' | 'client'; offered?: OfferedTool } {
    const offered = toolbox.byFunctionName(call.function.name);
    if (offered) return { kind: toolbox.needsApproval(offered) ? 'approval' : 'run', offered };
    // A name nobody offered: the caller's when it has function tools and no MCP tools; otherwise a tool error.
    if (clientNames.has(call.function.name) || toolbox.isEmpty) return { kind: 'client' };
    return { kind: 'run' };
  }

  /**
   * One MCP call, reported to the observer as it starts and ends. With a `refusal` nothing is called (a name nobody
   * offered: this key may not use it or it does not exist; a declined approval) and the model reads the refusal.
   */
  private async runCall(input: LoopInput, call: ChatToolCall, offered: OfferedTool | undefined, refusal: string | undefined, approvalRequestId?: string): Promise<McpCallStep> {
    const started: McpCallStep = { kind: 'mcp_call', call, offered, outcome: { output: '' }, ...(approvalRequestId ? { approvalRequestId } : {}) };
    input.observer?.toolStarted?.(started);
    const outcome: ToolOutcome = refusal !== undefined || !offered ? { error: refusal ?? 'not available' } : await this.runner.run(input.caller, offered, call.function.arguments, input.requestId);
    const done = { ...started, outcome };
    input.observer?.toolDone?.(done);
    return done;
  }
}

export function assistantMessage(turn: Pick<ModelTurn, 'text' | 'toolCalls'>): ChatMessage {
  return { role: 'assistant', content: turn.text, ...(turn.toolCalls.length ? { tool_calls: turn.toolCalls } : {}) };
}

export function toolMessage(callId: string, outcome: ToolOutcome): ChatMessage {
  return { role: 'tool', tool_call_id: callId, content: outcome.error !== undefined ? `Error: ${outcome.error}` : outcome.output };
}
