import { invalidRequest } from '../chat/request-errors.js';
import type { ChatContentPart, ChatMessage } from '../providers/chat-types.js';
import type { McpToolbox } from '../tools/mcp-toolbox.js';
import type { ResponseBody } from './response-schemas.js';

export interface ApprovalAnswer {
  approve: boolean;
  reason?: string | null;
}

/** A request's `input` in chat form, with the approval answers it carries. */
export interface ConvertedInput {
  messages: ChatMessage[];
  /** `mcp_approval_response` items, by approval_request_id (answering the previous response's requests). */
  answers: Map<string, ApprovalAnswer & { index: number }>;
}

/**
 * Items that only describe what happened on the server, or carry nothing a chat model reads. Approval requests
 * are answered through previous_response_id, where the gateway kept them.
 */
const IGNORED = new Set(['mcp_list_tools', 'reasoning', 'mcp_approval_request']);

/**
 * Converts Responses input items to chat messages: messages, function calls and their outputs, and MCP calls a
 * client replays; approval answers are collected for the caller. Unsupported item types are a 400
 * naming `input[i].type`.
 */
export function convertInput(input: ResponseBody['input'], toolbox: McpToolbox): ConvertedInput {
  const out: ConvertedInput = { messages: [], answers: new Map() };
  if (input === undefined) return out;
  if (typeof input === 'string') {
    out.messages.push({ role: 'user', content: input });
    return out;
  }
  const assistantWithCalls = (): ChatMessage => {
    const last = out.messages[out.messages.length - 1];
    if (last?.role === 'assistant') return last;
    const message: ChatMessage = { role: 'assistant', content: null };
    out.messages.push(message);
    return message;
  };
  input.forEach((raw, i) => {
    const item = raw as Record<string, any>;
    const type = item.type ?? 'message';
    if (IGNORED.has(type)) return;
    switch (type) {
      case 'message': {
        if (!item.role) throw invalidRequest(`input[${i}].role`, 'expected one of user, assistant, system, developer');
        out.messages.push({ role: item.role === 'developer' ? 'system' : item.role, content: contentOf(item.content, i) });
        return;
      }
      case 'function_call': {
        if (typeof item.call_id !== 'string' || typeof item.name !== 'string') throw invalidRequest(`input[${i}]`, 'a function_call needs call_id and name');
        const message = assistantWithCalls();
        message.tool_calls = [...(message.tool_calls ?? []), { id: item.call_id, type: 'function', function: { name: item.name, arguments: String(item.arguments ?? '{}') } }];
        return;
      }
      case 'function_call_output': {
        if (typeof item.call_id !== 'string') throw invalidRequest(`input[${i}].call_id`, 'expected the call_id of a function_call');
        out.messages.push({ role: 'tool', tool_call_id: item.call_id, content: typeof item.output === 'string' ? item.output : textOfParts(item.output) });
        return;
      }
      case 'mcp_call': {
        const id = String(item.id ?? `mcp_${i}`);
        const name = toolbox.functionNameOf(String(item.server_label), String(item.name)) ?? String(item.name);
        const message = assistantWithCalls();
        message.tool_calls = [...(message.tool_calls ?? []), { id, type: 'function', function: { name, arguments: String(item.arguments ?? '{}') } }];
        out.messages.push({ role: 'tool', tool_call_id: id, content: item.error ? `Error: ${item.error}` : String(item.output ?? '') });
        return;
      }
      case 'mcp_approval_response': {
        if (typeof item.approval_request_id !== 'string') throw invalidRequest(`input[${i}].approval_request_id`, 'expected the id of an mcp_approval_request');
        if (typeof item.approve !== 'boolean') throw invalidRequest(`input[${i}].approve`, 'expected true or false');
        out.answers.set(item.approval_request_id, { approve: item.approve, reason: item.reason ?? null, index: i });
        return;
      }
      default:
        throw invalidRequest(`input[${i}].type`, `"${type}" items are not supported by this gateway`);
    }
  });
  return out;
}

function contentOf(content: unknown, index: number): ChatMessage['content'] {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalidRequest(`input[${index}].content`, 'expected a string or an array of content parts');
  const parts = content.map((part: Record<string, any>, j): ChatContentPart => {
    switch (part.type) {
      case 'input_text':
      case 'output_text':
      case 'text':
        return { type: 'text', text: String(part.text ?? '') };
      case 'refusal':
        return { type: 'text', text: String(part.refusal ?? '') };
      case 'input_image':
        if (typeof part.image_url !== 'string') throw invalidRequest(`input[${index}].content[${j}].image_url`, 'expected an image URL (file_id is not supported)');
        return { type: 'image_url', image_url: { url: part.image_url, ...(part.detail ? { detail: part.detail } : {}) } };
      default:
        throw invalidRequest(`input[${index}].content[${j}].type`, `"${part.type}" content is not supported by this gateway`);
    }
  });
  // Text-only content travels as a string: every provider takes that.
  return parts.every((p) => p.type === 'text') ? parts.map((p) => (p as { text: string }).text).join('') : parts;
}

function textOfParts(parts: unknown): string {
  return Array.isArray(parts) ? parts.map((p: { text?: string }) => p.text ?? '').join('') : String(parts ?? '');
}
