import type { Deployment } from '../models/deployments.js';
import type { ChatChunk, ChatCompletion, ChatToolCall, ChatUsage } from '../providers/chat-types.js';

/** One assistant reply of the model, whether it came whole or streamed. */
export interface ModelTurn {
  id: string;
  model: string;
  text: string | null;
  toolCalls: ChatToolCall[];
  finishReason: string;
  usage: ChatUsage | undefined;
  deployment: Deployment;
}

export function turnFromCompletion(completion: ChatCompletion, deployment: Deployment): ModelTurn {
  const choice = completion.choices[0];
  const content = choice?.message.content;
  return {
    id: completion.id,
    model: completion.model,
    text: typeof content === 'string' ? content : null,
    toolCalls: choice?.message.tool_calls ?? [],
    finishReason: choice?.finish_reason ?? 'stop',
    usage: completion.usage,
    deployment,
  };
}

/** Assembles a streamed turn, handing each text delta to `onText` as it arrives. */
export async function turnFromChunks(chunks: AsyncIterable<ChatChunk>, deployment: Deployment, onText: (delta: string) => void): Promise<ModelTurn> {
  const turn: ModelTurn = { id: '', model: deployment.model, text: null, toolCalls: [], finishReason: 'stop', usage: undefined, deployment };
  const calls: { id: string; name: string; arguments: string }[] = [];
  for await (const chunk of chunks) {
    turn.id ||= chunk.id;
    turn.model = chunk.model || turn.model;
    if (chunk.usage) turn.usage = chunk.usage;
    const choice = chunk.choices?.[0];
    if (!choice) continue;
    const { content, tool_calls } = choice.delta ?? {};
    if (typeof content === 'string' && content) {
      turn.text = (turn.text ?? '') + content;
      onText(content);
    }
    for (const delta of tool_calls ?? []) {
      const call = (calls[delta.index] ??= { id: '', name: '', arguments: '' });
      if (delta.id) call.id = delta.id;
      if (delta.function?.name) call.name += delta.function.name;
      if (delta.function?.arguments) call.arguments += delta.function.arguments;
    }
    if (choice.finish_reason) turn.finishReason = choice.finish_reason;
  }
  turn.toolCalls = calls.filter(Boolean).map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  return turn;
}
