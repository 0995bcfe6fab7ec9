import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { afterEach } from 'vitest';
import type { Suite, SuiteMode } from '../../../scripts/lib/suite.mjs';

export { freePort, startCountingServer, startEverything, startSuite } from '../../../scripts/lib/suite.mjs';
export type { CountingServer, HttpEverything, Suite, SuiteMode } from '../../../scripts/lib/suite.mjs';
export { startModernUpstream, type ModernUpstream, type ModernUpstreamOptions, type ModernUpstreamStats } from '../../fixtures/modern-upstream.js';

/**
 * The two ways the gateway runs, for `describe.each(MODES)`: the distributed suite (separate processes on NATS,
 * Postgres and Redis) and the one-process default (in-process bus, embedded database, memory stores).
 */
export const MODES = ['distributed', 'one-process'] as const satisfies readonly SuiteMode[];

export const PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'] as const;

export const keyHeaders = (key: string): Record<string, string> => ({ 'x-litellm-api-key': `Bearer ${key}` });

/** The official SDK client on `url`, authenticated with `key`. */
export async function connectClient(url: string, key: string, options: { fetch?: FetchLike; name?: string } = {}): Promise<Client> {
  const client = new Client({ name: options.name ?? 'switchboard-e2e', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: keyHeaders(key) },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  await client.connect(transport);
  return client;
}

export interface RawReply {
  status: number;
  headers: Headers;
  text: string;
  /** The JSON-RPC message of the reply: the JSON body, or the first `data:` of an SSE-framed one. */
  message: any;
}

/** The JSON-RPC messages of an SSE body (`data:` lines of each event). */
export function sseMessages(text: string): unknown[] {
  const messages: unknown[] = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    if (data) {
      try {
        messages.push(JSON.parse(data));
      } catch {
        /* not JSON: ignore */
      }
    }
  }
  return messages;
}

/** POSTs raw bytes or a JSON-RPC message to an MCP endpoint, the way a client without an SDK would. */
export async function rawPost(
  url: string,
  body: unknown,
  options: { key?: string; sessionId?: string; protocolVersion?: string; headers?: Record<string, string> } = {},
): Promise<RawReply> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...(options.key ? keyHeaders(options.key) : {}),
    ...(options.sessionId ? { 'mcp-session-id': options.sessionId } : {}),
    ...(options.protocolVersion ? { 'mcp-protocol-version': options.protocolVersion } : {}),
    ...options.headers,
  };
  const response = await fetch(url, { method: 'POST', headers, body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body) });
  const text = await response.text();
  let message: any;
  if ((response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const id = (body as { id?: unknown })?.id;
    const messages = sseMessages(text) as { id?: unknown }[];
    message = messages.find((m) => m.id === id) ?? messages[0];
  } else if (text) {
    try {
      message = JSON.parse(text);
    } catch {
      message = undefined;
    }
  }
  return { status: response.status, headers: response.headers, text, message };
}

let nextId = 1;
export const request = (method: string, params: Record<string, unknown> = {}) => ({ jsonrpc: '2.0' as const, id: nextId++, method, params });

/** A raw initialize + notifications/initialized; returns the session id and the negotiated reply. */
export async function rawInitialize(url: string, key: string, protocolVersion = '2025-11-25'): Promise<{ sessionId: string; reply: RawReply }> {
  const reply = await rawPost(
    url,
    request('initialize', { protocolVersion, capabilities: {}, clientInfo: { name: 'raw-e2e', version: '1.0.0' } }),
    { key },
  );
  if (reply.status !== 200) throw new Error(`initialize answered ${reply.status}: ${reply.text}`);
  const sessionId = reply.headers.get('mcp-session-id');
  if (!sessionId) throw new Error(`initialize returned no mcp-session-id: ${reply.text}`);
  const version = reply.message?.result?.protocolVersion ?? protocolVersion;
  const notified = await rawPost(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { key, sessionId, protocolVersion: version });
  if (notified.status !== 202 && notified.status !== 200) throw new Error(`notifications/initialized answered ${notified.status}: ${notified.text}`);
  return { sessionId, reply };
}

/** Prints every child's output after a failing test (and always when DEBUG_E2E is set). */
export function printLogsOnFailure(getSuite: () => Suite | undefined): void {
  afterEach((context) => {
    const suite = getSuite();
    if (!suite) return;
    if (context.task.result?.state === 'fail' || process.env.DEBUG_E2E) {
      process.stderr.write(`\n===== service output for "${context.task.name}" =====\n${suite.logs()}\n`);
    }
  });
}

/** Polls until `check` returns a truthy value. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 100): Promise<Truthy<T>> {
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Truthy<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(`not met within ${timeoutMs} ms; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Names of the tools `client` lists, across pages. */
export async function toolNames(client: Client): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor);
  return names;
}

/** The text of a CallToolResult's first text content. */
export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.find((c) => c.type === 'text')?.text ?? '';
}

/** The official SDK client with extra request headers (e.g. `x-mcp-servers`) besides the key. */
export async function connectClientWithHeaders(url: string, key: string, headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: 'switchboard-e2e', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { ...keyHeaders(key), ...headers } } });
  await client.connect(transport);
  return client;
}

export interface ApiReply {
  status: number;
  headers: Headers;
  body: any;
}

/** One request to the management REST API at the edge: GET when `body` is undefined, else a JSON POST. */
export async function callApi(base: string, key: string, path: string, body?: unknown): Promise<ApiReply> {
  const response = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...keyHeaders(key), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: keep the text */
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** Like callApi, but throws unless the answer is 2xx; returns the parsed body. */
export async function api<T = any>(base: string, key: string, path: string, body?: unknown): Promise<T> {
  const reply = await callApi(base, key, path, body);
  if (reply.status < 200 || reply.status >= 300) throw new Error(`${body === undefined ? 'GET' : 'POST'} ${path} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
  return reply.body as T;
}

/** POST /key/generate with the master key; returns the reply (the key itself is in `.key`). */
export function generateKey(suite: Suite, fields: Record<string, unknown> = {}, edge = 0): Promise<{ key: string; token: string; key_alias: string | null; expires: string | null } & Record<string, unknown>> {
  return api(suite.edgeUrls[edge]!, suite.masterKey, '/key/generate', fields);
}

/** Audit rows matching `query` (GET /v1/mcp/audit), polled until `accept` holds (the audit is written in batches). */
export async function waitForAudit(
  suite: Suite,
  query: Record<string, string>,
  accept: (rows: any[]) => boolean = (rows) => rows.length > 0,
  timeoutMs = 2_500,
): Promise<any[]> {
  const search = new URLSearchParams({ page_size: '500', ...query });
  return eventually(async () => {
    const { rows } = await api<{ rows: any[] }>(suite.edgeUrls[0]!, suite.masterKey, `/v1/mcp/audit?${search}`);
    return accept(rows) && rows;
  }, timeoutMs, 100);
}

/**
 * rpm_limit is counted in fixed one-minute windows (wall clock): returns once at least `marginMs` remain in the
 * current minute, so that a burst of a few requests is counted in a single window.
 */
export async function awayFromMinuteEdge(marginMs = 10_000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < marginMs) await new Promise((r) => setTimeout(r, left + 50));
}
