import { Inject, Injectable } from '@nestjs/common';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { DomainError, type GrantedTool } from '#libs/contracts';
import { UpstreamUrlGuard, UpstreamUrlRefused, type IpRangeRules } from '#libs/net-guard';
import { invalidRequest } from '../chat/request-errors.js';

export const UPSTREAM_RULES = Symbol('UPSTREAM_RULES');

const CONNECT_TIMEOUT_MS = 15_000;

/** An MCP server outside this gateway, connected for one LLM request. */
export interface RemoteSession {
  tools: GrantedTool[];
  callTool(name: string, args: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * Connects to the MCP servers that general_settings.allowed_remote_mcp_server_urls lets a request name, with the
 * request's own headers for them (never the gateway key), after checking the URL against the upstream rules
 * again right before connecting. Streamable HTTP, or the legacy SSE transport for a path ending in /sse.
 */
@Injectable()
export class RemoteMcp {
  private readonly guard: UpstreamUrlGuard;

  constructor(@Inject(UPSTREAM_RULES) rules: IpRangeRules) {
    this.guard = new UpstreamUrlGuard(rules);
  }

  async open(url: string, label: string, headers: Record<string, string>, index: number): Promise<RemoteSession> {
    const param = `tools[${index}].server_url`;
    try {
      await this.guard.check(url);
    } catch (error) {
      if (error instanceof UpstreamUrlRefused) throw invalidRequest(param, error.message);
      throw error;
    }
    const client = new Client({ name: 'switchboard-llm-proxy', version: '0.1.0' });
    try {
      await withTimeout(client.connect(transportFor(new URL(url), headers)), `connecting to ${url}`);
      const tools: Tool[] = [];
      let cursor: string | undefined;
      do {
        const page = await withTimeout(client.listTools(cursor ? { cursor } : {}), `listing the tools of ${url}`);
        tools.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor);
      return {
        tools: tools.map((t) => ({
          name: t.name,
          server_id: `remote:${url}`,
          server_name: label,
          tool: t.name,
          description: t.description ?? null,
          input_schema: t.inputSchema,
          annotations: (t.annotations as Record<string, unknown> | undefined) ?? null,
        })),
        callTool: async (name, args) => (await client.callTool({ name, arguments: args })) as Record<string, unknown>,
        close: () => client.close().catch(() => undefined),
      };
    } catch (error) {
      await client.close().catch(() => undefined);
      // OpenAI answers 424 when it cannot list an MCP server's tools.
      throw new DomainError('UPSTREAM_UNAVAILABLE', `${param}: the MCP server at ${url} could not be used: ${(error as Error).message}`, {
        http_status: 424,
        param,
        type: 'external_connector_error',
      });
    }
  }
}

function transportFor(url: URL, headers: Record<string, string>): Transport {
  if (!url.pathname.endsWith('/sse')) return new StreamableHTTPClientTransport(url, { requestInit: { headers } });
  return new SSEClientTransport(url, {
    requestInit: { headers },
    eventSourceInit: { fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }) },
  });
}

function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000}s ${what}`)), CONNECT_TIMEOUT_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
