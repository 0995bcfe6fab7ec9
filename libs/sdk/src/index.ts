/**
 * The MCP bridge for TypeScript (LiteLLM's `experimental_mcp_client` in Python): list an MCP server's tools as
 * OpenAI function tools, and run the tool calls a model returns on that server, with the official MCP `Client`.
 * Works against any MCP server, Switchboard's `/mcp` included. Depends on nothing but the MCP SDK's types.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';

/** An OpenAI Chat Completions function tool (`ChatCompletionTool` of the `openai` package). */
export interface OpenAITool {
  type: 'function';
  function: {
    name: string;
    description: string;
    parameters: Record<string, unknown>;
    strict: boolean;
  };
}

/**
 * A tool call as a model returns it (`choices[0].message.tool_calls[i]`); `arguments` may be the JSON text the
 * API returns or an already parsed object.
 */
export interface OpenAIToolCall {
  id?: string;
  type?: 'function' | string;
  function: { name: string; arguments?: string | Record<string, unknown> | null };
}

export type McpToolFormat = 'mcp' | 'openai';

/** An MCP tool as an OpenAI function tool: its name, description and input schema unchanged. */
export function toOpenAITool(tool: Tool): OpenAITool {
  return {
    type: 'function',
    function: {
      name: tool.name,
      description: tool.description ?? '',
      parameters: { ...tool.inputSchema, properties: tool.inputSchema.properties ?? {} },
      strict: false,
    },
  };
}

/**
 * Every tool of the server `client` is connected to, all pages: as MCP tools (`format: 'mcp'`, the default) or as
 * OpenAI function tools to pass as `tools` to `chat.completions.create` (`format: 'openai'`).
 */
export async function loadMcpTools(client: Client, options?: { format?: 'mcp' }): Promise<Tool[]>;
export async function loadMcpTools(client: Client, options: { format: 'openai' }): Promise<OpenAITool[]>;
export async function loadMcpTools(client: Client, options: { format?: McpToolFormat } = {}): Promise<Tool[] | OpenAITool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return options.format === 'openai' ? tools.map(toOpenAITool) : tools;
}

/** Parses a tool call's arguments: JSON text or an object; empty means none. Throws on text that is not a JSON object. */
export function toolCallArguments(toolCall: OpenAIToolCall): Record<string, unknown> {
  const raw = toolCall.function.arguments;
  if (raw === undefined || raw === null || raw === '') return {};
  if (typeof raw !== 'string') return raw;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`the arguments of tool call ${toolCall.function.name} are not JSON: ${raw.slice(0, 200)}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`the arguments of tool call ${toolCall.function.name} are not a JSON object`);
  return parsed as Record<string, unknown>;
}

/**
 * Runs a model's tool call on the MCP server: `tools/call` with the call's function name and arguments. Returns
 * the MCP `CallToolResult` (a tool that failed answers `isError: true`; it does not throw).
 */
export async function callOpenAITool(client: Client, toolCall: OpenAIToolCall): Promise<CallToolResult> {
  return (await client.callTool({ name: toolCall.function.name, arguments: toolCallArguments(toolCall) })) as CallToolResult;
}
