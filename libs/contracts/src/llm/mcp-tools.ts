import { z } from 'zod';
import { LlmCaller } from './caller.js';

/**
 * An MCP tool entry of an LLM request, as LiteLLM and OpenAI accept it:
 * `{"type": "mcp", "server_label", "server_url", "require_approval", "allowed_tools", "headers"}`.
 * The edge reads `server_url`, `allowed_tools` and `headers` (which tools the caller gets); llm-proxy reads the
 * label and the approval policy.
 */
export const McpToolParam = z.looseObject({
  type: z.literal('mcp'),
  server_label: z.string().min(1, 'expected a non-empty server_label').max(128).default('switchboard'),
  /** `litellm_proxy`, `litellm_proxy/mcp`, `litellm_proxy/mcp/{server}`, this gateway's own `…/mcp[/{server}]`. */
  server_url: z.string().min(1, 'expected litellm_proxy, litellm_proxy/mcp/{server} or this gateway\'s /mcp URL').optional(),
  /** OpenAI's connectors are not supported: refused by name. */
  connector_id: z.string().optional(),
  require_approval: z
    .union([
      z.enum(['always', 'never']),
      z.strictObject({
        always: z.strictObject({ tool_names: z.array(z.string()).optional(), read_only: z.boolean().optional() }).optional(),
        never: z.strictObject({ tool_names: z.array(z.string()).optional(), read_only: z.boolean().optional() }).optional(),
      }),
    ])
    .default('always'),
  allowed_tools: z
    .union([z.array(z.string()), z.strictObject({ tool_names: z.array(z.string()).optional(), read_only: z.boolean().optional() })])
    .nullish(),
  headers: z.record(z.string(), z.string()).nullish(),
  server_description: z.string().optional(),
});
export type McpToolParam = z.infer<typeof McpToolParam>;

/** A catalog tool the caller may use, as one MCP entry of the request exposes it. */
export const GrantedTool = z.object({
  /** The name the entry shows (mcp_list_tools, mcp_call): `{server}-{tool}` on the aggregate, the tool's own on one server. */
  name: z.string(),
  server_id: z.string(),
  server_name: z.string(),
  /** The upstream's own tool name. */
  tool: z.string(),
  description: z.string().nullish(),
  input_schema: z.record(z.string(), z.unknown()),
  annotations: z.record(z.string(), z.unknown()).nullish(),
});
export type GrantedTool = z.infer<typeof GrantedTool>;

/**
 * What the edge resolved for one MCP entry of `tools` (same index): the tools this caller's key may use there,
 * after SPEC section 4's rules, `x-mcp-servers`, the entry's server and `allowed_tools`; and the headers each
 * server receives. llm-proxy can call nothing else.
 */
export const McpGrant = z.object({
  /** Index of the entry in the request's `tools`. */
  index: z.number().int().min(0),
  tools: z.array(GrantedTool),
  /** server_id → headers for that upstream (`x-mcp-{server}-authorization`, extra_headers). */
  forward_headers: z.record(z.string(), z.record(z.string(), z.string())),
  /** Set when the entry's `headers` carry a gateway key of their own: its tools are used (and audited) as that key. */
  caller: LlmCaller.optional(),
  /**
   * Set when `server_url` is another MCP server that general_settings.allowed_remote_mcp_server_urls names (and the
   * upstream URL rules allow): llm-proxy lists and calls its tools itself, with the entry's headers; `tools` is empty.
   */
  remote_url: z.string().optional(),
});
export type McpGrant = z.infer<typeof McpGrant>;
