import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { BatchSender, Bus } from '#libs/bus';
import { AUDIT_SENDING, DomainError, UpstreamRequest, WriteAudit, type AuditRecord, type AuditStatus, type LlmCaller } from '#libs/contracts';
import { Metrics } from '#libs/observability';
import type { OfferedTool } from './mcp-toolbox.js';

/** What a tool call gave the model: its output, or the error it gets instead. */
export type ToolOutcome = { output: string; error?: undefined } | { output?: undefined; error: string };

const TOOL_CALL_BUDGET_MS = 300_000;

/**
 * Runs the model's MCP tool calls through a connector, as the caller's key: only tools the edge granted reach
 * here, each call makes one bus request (UpstreamRequest, as /mcp's tools/call does) and writes one audit record.
 * Failures never throw: they become the error the model reads as tool output.
 */
@Injectable()
export class ToolRunner implements OnModuleDestroy {
  private readonly log = new Logger(ToolRunner.name);

  private readonly auditSender: BatchSender<typeof WriteAudit>;

  constructor(@Inject(Bus) private readonly bus: Bus) {
    this.auditSender = new BatchSender(bus, WriteAudit, AUDIT_SENDING);
  }

  onModuleDestroy(): Promise<void> {
    return this.auditSender.close();
  }

  async run(requestCaller: LlmCaller, offered: OfferedTool, argumentsText: string, requestId: string): Promise<ToolOutcome> {
    const caller = offered.toolset.caller ?? requestCaller;
    const args = parseArguments(argumentsText);
    if (args === undefined) return { error: `the arguments of ${offered.tool.name} are not a JSON object: ${argumentsText.slice(0, 200)}` };
    const started = Date.now();
    let status: AuditStatus = 'error';
    let errorCode: string | null = null;
    try {
      const result = await this.call(offered, args, caller);
      const text = resultText(result);
      if (result.isError === true) return { error: text || `${offered.tool.name} failed` };
      status = 'success';
      return { output: text };
    } catch (error) {
      errorCode = error instanceof DomainError ? error.code : 'INTERNAL';
      status = errorCode === 'UPSTREAM_TIMEOUT' || errorCode === 'BUS_TIMEOUT' ? 'timeout' : 'error';
      this.log.warn(`${offered.tool.server_name}/${offered.tool.tool}: ${(error as Error).message}`);
      return { error: `MCP server "${offered.tool.server_name}" failed: ${(error as Error).message}` };
    } finally {
      this.audit({
        time: new Date(started).toISOString(),
        key_alias: caller.key_alias,
        token_hash_prefix: caller.token_hash?.slice(0, 8) ?? null,
        team_id: caller.team_id,
        organization_id: caller.organization_id,
        server_name: offered.tool.server_name,
        tool: offered.tool.tool,
        status,
        duration_ms: Date.now() - started,
        error_code: errorCode,
        // Audit rows of one LLM request share this id (`llm:{request id}`).
        session_id: `llm:${requestId}`,
      });
    }
  }

  /** A catalog tool through a connector (one bus request, as /mcp's tools/call); a remote server's over its session. */
  private async call(offered: OfferedTool, args: Record<string, unknown>, caller: LlmCaller): Promise<Record<string, unknown>> {
    if (offered.toolset.remote) return offered.toolset.remote.callTool(offered.tool.tool, args);
    const { result } = await this.bus.call(
      UpstreamRequest,
      {
        server_id: offered.tool.server_id,
        method: 'tools/call',
        params: { name: offered.tool.tool, arguments: args },
        forward_headers: offered.toolset.forwardHeaders[offered.tool.server_id],
        // per-user upstream OAuth: the key's user (a key without one is its own user), as /mcp names it
        user: {
          user_id: caller.user_id ?? (caller.token_hash ? `key:${caller.token_hash}` : 'master'),
          client_id: caller.token_hash ?? 'master',
          ...(caller.key_alias ? { client_name: caller.key_alias } : {}),
        },
      },
      { timeoutMs: TOOL_CALL_BUDGET_MS },
    );
    return result;
  }

  /** Written like the edge's tool calls: the audit log (through auth) and the tool-call metrics. */
  private audit(record: AuditRecord): void {
    this.auditSender.add(record);
    Metrics.toolCalls.inc({ server: record.server_name, tool: record.tool, outcome: record.status });
    Metrics.toolCallDuration.observe({ server: record.server_name, outcome: record.status }, record.duration_ms / 1000);
  }
}

function parseArguments(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text.trim() || '{}');
    return value && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A CallToolResult as text for the model: text parts as they are, anything else as JSON. */
export function resultText(result: Record<string, unknown>): string {
  const content = Array.isArray(result.content) ? (result.content as { type?: string; text?: string }[]) : [];
  const parts = content.map((c) => (c.type === 'text' && typeof c.text === 'string' ? c.text : JSON.stringify(c)));
  if (parts.length === 0 && result.structuredContent !== undefined) parts.push(JSON.stringify(result.structuredContent));
  return parts.join('\n');
}
