import { DomainError, functionSafeNames, McpToolParam, type GrantedTool, type LlmCaller, type McpGrant } from '#libs/contracts';
import { parseOrThrow } from '../chat/request-errors.js';
import type { ChatFunctionTool } from '../providers/chat-types.js';
import type { RemoteMcp, RemoteSession } from './remote-mcp.js';

type ApprovalPolicy = McpToolParam['require_approval'];

/** One MCP entry of the request's `tools`, with what the edge granted for it. */
export interface McpToolset {
  label: string;
  approval: ApprovalPolicy;
  tools: GrantedTool[];
  forwardHeaders: McpGrant['forward_headers'];
  /** Who the tools are used as, when not the request's key (the entry's own gateway key). */
  caller?: LlmCaller;
  /** Set for a server outside this gateway: its tools are called over this session, not through a connector. */
  remote?: RemoteSession;
}

/** A tool offered to the model: the function name it sees, and where a call of it goes. */
export interface OfferedTool {
  functionName: string;
  toolset: McpToolset;
  tool: GrantedTool;
}

/**
 * The MCP tools of one request, offered to the model as function tools. Function names are valid for every
 * provider (at most 64 of [a-zA-Z0-9_-]) and unique across the request, decided deterministically; a call comes
 * back by that name and maps to exactly one (toolset, tool). The caller's own function tools keep their names.
 */
export class McpToolbox {
  readonly offered: OfferedTool[];
  private readonly byFunction = new Map<string, OfferedTool>();

  private constructor(readonly toolsets: McpToolset[], clientFunctionNames: readonly string[]) {
    const entries = toolsets.flatMap((toolset) => toolset.tools.map((tool) => ({ toolset, tool })));
    const clients = [...new Set(clientFunctionNames)];
    const names = functionSafeNames([
      ...entries.map((e) => ({ name: e.tool.name, origin: `mcp\u0000${e.toolset.label}\u0000${e.tool.name}` })),
      ...clients.map((name) => ({ name, origin: `client\u0000${name}` })),
    ]);
    this.offered = entries.map((e, i) => ({ functionName: names[i]!, ...e }));
    for (const offered of this.offered) this.byFunction.set(offered.functionName, offered);
  }

  /**
   * fromRequest, after connecting to the remote servers the edge allowed (their tools are listed there and then).
   * Call `close` when the request is over.
   */
  static async open(tools: unknown, grants: readonly McpGrant[], clientFunctionNames: readonly string[], remote: RemoteMcp): Promise<McpToolbox> {
    const sessions = new Map<number, RemoteSession>();
    try {
      for (const grant of grants) {
        if (!grant.remote_url) continue;
        const entry = parseOrThrow(McpToolParam, (tools as unknown[])[grant.index], `tools[${grant.index}]`);
        sessions.set(grant.index, await remote.open(grant.remote_url, entry.server_label, entry.headers ?? {}, grant.index));
      }
      return McpToolbox.fromRequest(tools, grants, clientFunctionNames, sessions);
    } catch (error) {
      await Promise.all([...sessions.values()].map((s) => s.close()));
      throw error;
    }
  }

  /**
   * Reads the MCP entries of `tools` (others are the caller's) and joins them with the edge's grants (and the
   * sessions of remote ones). A malformed entry is a 400 naming `tools[i].field`.
   */
  static fromRequest(tools: unknown, grants: readonly McpGrant[], clientFunctionNames: readonly string[], remote = new Map<number, RemoteSession>()): McpToolbox {
    if (!Array.isArray(tools)) return new McpToolbox([], clientFunctionNames);
    const toolsets: McpToolset[] = [];
    tools.forEach((tool, index) => {
      if ((tool as { type?: unknown })?.type !== 'mcp') return;
      const parsed = parseOrThrow(McpToolParam, tool, `tools[${index}]`);
      const grant = grants.find((g) => g.index === index);
      const session = remote.get(index);
      toolsets.push({
        label: parsed.server_label,
        approval: parsed.require_approval,
        tools: session?.tools ?? grant?.tools ?? [],
        forwardHeaders: grant?.forward_headers ?? {},
        ...(grant?.caller ? { caller: grant.caller } : {}),
        ...(session ? { remote: session } : {}),
      });
    });
    const labels = toolsets.map((t) => t.label);
    const repeated = labels.find((label, i) => labels.indexOf(label) !== i);
    if (repeated) throw new DomainError('INVALID_ARGUMENT', `tools: two MCP tools have the server_label "${repeated}"; labels must be unique`, { param: 'tools' });
    return new McpToolbox(toolsets, clientFunctionNames);
  }

  /** Ends the remote sessions of this request. */
  async close(): Promise<void> {
    await Promise.all(this.toolsets.map((t) => t.remote?.close()));
  }

  get isEmpty(): boolean {
    return this.toolsets.length === 0;
  }

  /** The function tools the model is offered for the MCP entries. */
  functions(): ChatFunctionTool[] {
    return this.offered.map(({ functionName, tool }) => ({
      type: 'function',
      function: { name: functionName, ...(tool.description ? { description: tool.description } : {}), parameters: tool.input_schema },
    }));
  }

  byFunctionName(name: string): OfferedTool | undefined {
    return this.byFunction.get(name);
  }

  /** A tool by the name its entry shows (mcp_approval_request, mcp_call items). */
  byLabel(label: string, name: string): OfferedTool | undefined {
    return this.offered.find((o) => o.toolset.label === label && o.tool.name === name);
  }

  functionNameOf(label: string, name: string): string | undefined {
    return this.byLabel(label, name)?.functionName;
  }

  needsApproval(offered: OfferedTool): boolean {
    const policy = offered.toolset.approval;
    if (policy === 'never') return false;
    if (policy === 'always') return true;
    const name = offered.tool.name;
    if (policy.never?.tool_names?.includes(name)) return false;
    if (policy.always?.tool_names?.includes(name)) return true;
    if (policy.never?.read_only && offered.tool.annotations?.readOnlyHint === true) return false;
    return true; // what no filter names needs approval, as on OpenAI's API
  }
}
