import { Inject, Injectable, Logger, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { Bus } from '#libs/bus';
import { DomainError, UpstreamListChanged, type McpServerRuntime, type ReplyOf, type RequestOf, type FetchServerCatalog, type UpstreamRequest } from '#libs/contracts';
import { UpstreamUrlGuard, type HostResolver } from '#libs/net-guard';
import { ServerDefinitionsService } from '../servers/server-definitions.service.js';
import { Backoff } from './backoff.js';
import { buildServerHeaders, mergeHeaders } from './headers.js';
import { SessionExpiredError, StreamableHttpTransport } from './http-transport.js';
import { NegotiatingTransport } from './negotiating-transport.js';
import { currentRequestHeaders, withRequestHeaders } from './request-context.js';
import { Semaphore } from './semaphore.js';
import { toUpstreamError } from './upstream-errors.js';

/** Results pass through unchanged: unknown fields survive (the SDK's callTool would re-shape them). */
const LooseResult = z.looseObject({});
type LooseResult = Record<string, unknown>;

export const UPSTREAM_POOL_OPTIONS = Symbol('UPSTREAM_POOL_OPTIONS');
export interface UpstreamPoolOptions {
  /** Per-call upstream timeout when the server sets none (ms). */
  defaultTimeoutMs: number;
  /** Kept back from the caller's deadline so our UPSTREAM_TIMEOUT reply reaches it before its own timer fires. */
  replyMarginMs: number;
  /** stdio restart backoff. */
  restartInitialMs: number;
  restartMaxMs: number;
  /** Resolves upstream host names for the address check (the system's resolver by default; tests pass a stub). */
  resolver?: HostResolver;
}
export const DEFAULT_POOL_OPTIONS: UpstreamPoolOptions = { defaultTimeoutMs: 60_000, replyMarginMs: 50, restartInitialMs: 500, restartMaxMs: 30_000 };

const CLIENT_INFO = { name: 'switchboard-connector', version: '0.1.0' };
const MAX_CATALOG_PAGES = 1_000;

interface Session {
  client: Client;
  transport: NegotiatingTransport;
  inner: Transport;
  startedAt: number;
  /** Set when we close it ourselves, so its onclose is not taken for a crash. */
  closing: boolean;
}

interface PoolEntry {
  server: McpServerRuntime;
  headers: Record<string, string>;
  semaphore: Semaphore | undefined;
  /** The registry's IP range rules for this server, checked on every connection to it. */
  guard: UpstreamUrlGuard;
  session: Session | undefined;
  connecting: Promise<Session> | undefined;
  backoff: Backoff;
}

/** What tests and health checks may learn about one pooled upstream. */
export interface PoolEntryState {
  server_id: string;
  revision: string;
  connected: boolean;
  session_id: string | undefined;
  pid: number | null;
  restarts: number;
  protocol_version: string | undefined;
}

/**
 * One upstream MCP session per server in this replica, reused by every call (never an `initialize` per call).
 * Streamable HTTP sessions are re-initialized once, transparently, when the upstream forgets them (404); stdio
 * servers are restarted with backoff when they die; everything is closed on shutdown.
 */
@Injectable()
export class UpstreamPool implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(UpstreamPool.name);
  private readonly entries = new Map<string, PoolEntry>();
  private readonly options: UpstreamPoolOptions;
  private stopped = false;

  constructor(
    @Inject(ServerDefinitionsService) private readonly definitions: ServerDefinitionsService,
    @Inject(Bus) private readonly bus: Bus,
    @Optional() @Inject(UPSTREAM_POOL_OPTIONS) options?: Partial<UpstreamPoolOptions>,
  ) {
    this.options = { ...DEFAULT_POOL_OPTIONS, ...options };
  }

  onModuleInit(): void {
    this.definitions.onChange((serverId, serverName) => void this.drop(serverId, serverName));
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(entries.map((entry) => this.closeEntry(entry)));
  }

  /** Forwards one MCP request and returns the upstream's `result` as it came. */
  async request(req: RequestOf<typeof UpstreamRequest>, budgetMs: number): Promise<ReplyOf<typeof UpstreamRequest>> {
    const result = await this.run(req.server_id, budgetMs, req.forward_headers, (session, timeout) =>
      session.client.request({ method: req.method, params: req.params ?? {} } as never, LooseResult, { timeout }),
    );
    return { result: result as LooseResult };
  }

  /** Every tool of one upstream (all pages), its serverInfo and the protocol version it chose. */
  async fetchCatalog(req: RequestOf<typeof FetchServerCatalog>, budgetMs: number): Promise<ReplyOf<typeof FetchServerCatalog>> {
    return this.run(req.server_id, budgetMs, undefined, async (session, _timeout, deadline) => {
      const tools: ReplyOf<typeof FetchServerCatalog>['tools'] = [];
      if (session.client.getServerCapabilities()?.tools) {
        let cursor: string | undefined;
        for (let page = 0; page < MAX_CATALOG_PAGES; page++) {
          const params = cursor ? { cursor } : {};
          const reply = await session.client.request({ method: 'tools/list', params }, LooseResult, { timeout: remaining(deadline) });
          if (Array.isArray(reply.tools)) tools.push(...(reply.tools as typeof tools));
          cursor = typeof reply.nextCursor === 'string' && reply.nextCursor ? reply.nextCursor : undefined;
          if (!cursor) break;
        }
      }
      const info = session.client.getServerVersion();
      return {
        tools,
        server_info: info ? { ...(info as Record<string, unknown>) } : null,
        protocol_version: session.transport.negotiatedVersion ?? null,
      };
    });
  }

  state(serverId: string): PoolEntryState | undefined {
    const entry = this.entries.get(serverId) ?? [...this.entries.values()].find((e) => e.server.server_name === serverId);
    if (!entry) return undefined;
    const inner = entry.session?.inner;
    return {
      server_id: entry.server.server_id,
      revision: entry.server.revision,
      connected: entry.session !== undefined,
      session_id: entry.session?.transport.sessionId,
      pid: inner instanceof StdioClientTransport ? inner.pid : null,
      restarts: entry.backoff.attempts,
      protocol_version: entry.session?.transport.negotiatedVersion,
    };
  }

  /** The pooled HTTP transport of a server (tests measure it). */
  transportOf(serverId: string): Transport | undefined {
    return this.entries.get(serverId)?.session?.inner;
  }

  private async run<T>(
    serverRef: string,
    budgetMs: number,
    forwardHeaders: Record<string, string> | undefined,
    call: (session: Session, timeoutMs: number, deadline: number) => Promise<T>,
  ): Promise<T> {
    if (this.stopped) throw new DomainError('UPSTREAM_UNAVAILABLE', 'connector is shutting down');
    const started = Date.now();
    const callerDeadline = started + budgetMs - this.options.replyMarginMs;
    const server = await this.definitions.get(serverRef, callerDeadline);
    const serverTimeoutMs = server.timeout ? server.timeout * 1000 : this.options.defaultTimeoutMs;
    const deadline = Math.min(callerDeadline, started + serverTimeoutMs);
    const timeoutMs = Math.max(0, deadline - started);
    const entry = this.entryFor(server);
    const headers = forwardHeaders ? mergeHeaders({}, forwardHeaders) : undefined;
    const release = entry.semaphore ? await entry.semaphore.acquire(deadline) : undefined;
    try {
      return await withRequestHeaders(headers, async () => {
        let session = await this.sessionOf(entry, deadline);
        try {
          return await call(session, remaining(deadline), deadline);
        } catch (error) {
          if (!(error instanceof SessionExpiredError)) throw error;
          this.log.log(`upstream ${server.server_name} forgot session ${error.sessionId}: re-initializing`);
          this.discard(entry, session);
          session = await this.sessionOf(entry, deadline);
          return await call(session, remaining(deadline), deadline);
        }
      });
    } catch (error) {
      throw toUpstreamError(error, server.server_name, timeoutMs);
    } finally {
      release?.();
    }
  }

  private entryFor(server: McpServerRuntime): PoolEntry {
    const existing = this.entries.get(server.server_id);
    if (existing && existing.server.revision === server.revision) return existing;
    if (existing) {
      this.log.log(`upstream ${server.server_name} definition changed (revision ${server.revision}): new session`);
      void this.closeEntry(existing);
    }
    const entry: PoolEntry = {
      server,
      headers: buildServerHeaders(server),
      semaphore: server.max_concurrent_requests ? new Semaphore(server.max_concurrent_requests) : undefined,
      guard: new UpstreamUrlGuard(server.ip_ranges, this.options.resolver),
      session: undefined,
      connecting: undefined,
      backoff: new Backoff(this.options.restartInitialMs, this.options.restartMaxMs),
    };
    this.entries.set(server.server_id, entry);
    return entry;
  }

  private async sessionOf(entry: PoolEntry, deadline: number): Promise<Session> {
    if (entry.session) return entry.session;
    if (!entry.connecting) {
      entry.connecting = this.connect(entry, deadline).finally(() => {
        entry.connecting = undefined;
      });
    }
    return entry.connecting;
  }

  private async connect(entry: PoolEntry, deadline: number): Promise<Session> {
    const { server } = entry;
    const stdio = server.transport === 'stdio';
    if (stdio) {
      const wait = entry.backoff.waitMs();
      if (wait > 0) {
        throw new DomainError('UPSTREAM_UNAVAILABLE', `stdio server ${server.server_name} is restarting; next attempt in ${wait} ms`, {
          server: server.server_name,
          retry_after_ms: wait,
        });
      }
      if (entry.backoff.attempts > 0) this.log.warn(`restarting stdio server ${server.server_name} (attempt ${entry.backoff.attempts})`);
    }
    // The address is checked now, not only when the server was registered: its name may resolve elsewhere today.
    // Streamable HTTP connections also resolve through the guard (entry.guard.lookup), so each socket is checked.
    if (!stdio) await entry.guard.check(requireUrl(server));
    const inner = this.createTransport(server, entry.headers, entry.guard);
    const transport = new NegotiatingTransport(inner, server.spec_version ?? undefined);
    const client = new Client(CLIENT_INFO, { capabilities: {} });
    const session: Session = { client, transport, inner, startedAt: Date.now(), closing: false };
    client.onerror = (error) => this.log.debug(`upstream ${server.server_name}: ${error.message}`);
    client.onclose = () => this.onSessionClosed(entry, session);
    const lists = [
      ['tools', ToolListChangedNotificationSchema],
      ['prompts', PromptListChangedNotificationSchema],
      ['resources', ResourceListChangedNotificationSchema],
    ] as const;
    for (const [list, schema] of lists) {
      client.setNotificationHandler(schema, () => {
        this.log.debug(`upstream ${server.server_name}: ${list} list changed`);
        this.bus.publish(UpstreamListChanged, { server_id: server.server_id, list });
      });
    }
    try {
      await client.connect(transport, { timeout: remaining(deadline) });
    } catch (error) {
      session.closing = true;
      void client.close().catch(() => undefined);
      if (stdio) {
        const delay = entry.backoff.fail();
        this.log.warn(`stdio server ${server.server_name} failed to start (${(error as Error).message}); next attempt in ${delay} ms`);
      }
      throw error;
    }
    if (this.stopped || this.entries.get(server.server_id) !== entry) {
      // the pool stopped or the definition changed while we were connecting
      session.closing = true;
      await client.close().catch(() => undefined);
      throw new DomainError('UPSTREAM_UNAVAILABLE', `upstream ${server.server_name} changed while connecting`, { server: server.server_name });
    }
    entry.session = session;
    this.log.log(
      `connected to upstream ${server.server_name} over ${server.transport} (protocol ${transport.negotiatedVersion ?? 'unknown'}` +
        `${stdio && inner instanceof StdioClientTransport ? `, pid ${inner.pid}` : ''})`,
    );
    return session;
  }

  private createTransport(server: McpServerRuntime, headers: Record<string, string>, guard: UpstreamUrlGuard): Transport {
    switch (server.transport) {
      case 'http':
        return new StreamableHttpTransport(new URL(requireUrl(server)), {
          headers,
          openNotificationStream: true,
          lookup: guard.lookup,
          onDebug: (message) => this.log.debug(`upstream ${server.server_name}: ${message}`),
        });
      case 'sse':
        return new SSEClientTransport(new URL(requireUrl(server)), { requestInit: { headers }, fetch: fetchWithRequestHeaders });
      case 'stdio': {
        if (!server.command) throw new DomainError('INVALID_ARGUMENT', `stdio server ${server.server_name} has no command`);
        const transport = new StdioClientTransport({
          command: server.command,
          args: server.args,
          env: { ...getDefaultEnvironment(), ...server.env },
          stderr: 'pipe',
        });
        // always drained, or a chatty child blocks on a full pipe
        transport.stderr?.on('data', (chunk: Buffer) => {
          const text = chunk.toString('utf8').trimEnd();
          if (text) this.log.debug(`[${server.server_name} stderr] ${text}`);
        });
        return transport;
      }
    }
  }

  private onSessionClosed(entry: PoolEntry, session: Session): void {
    if (session.closing || entry.session !== session) return;
    entry.session = undefined;
    const { server } = entry;
    if (server.transport === 'stdio') {
      const delay = entry.backoff.fail(Date.now() - session.startedAt);
      this.log.warn(`stdio server ${server.server_name} exited unexpectedly; restart allowed in ${delay} ms (failure ${entry.backoff.attempts})`);
    } else {
      this.log.warn(`upstream ${server.server_name} closed its connection; reconnecting on the next request`);
    }
  }

  private discard(entry: PoolEntry, session: Session): void {
    session.closing = true;
    if (entry.session === session) entry.session = undefined;
    void session.client.close().catch(() => undefined);
  }

  private async drop(serverId: string, serverName: string): Promise<void> {
    for (const [key, entry] of this.entries) {
      if (key === serverId || entry.server.server_name === serverName) {
        this.entries.delete(key);
        await this.closeEntry(entry);
      }
    }
  }

  private async closeEntry(entry: PoolEntry): Promise<void> {
    const session = entry.session;
    entry.session = undefined;
    const pending = entry.connecting;
    if (session) {
      session.closing = true;
      await session.client.close().catch(() => undefined);
    }
    // a connect still in flight notices the entry is gone and closes its own session; don't wait long for it
    if (pending) await Promise.race([pending.catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
  }
}

function remaining(deadline: number): number {
  const left = deadline - Date.now();
  if (left <= 0) throw new DomainError('UPSTREAM_TIMEOUT', 'deadline passed before the upstream call');
  return left;
}

function requireUrl(server: McpServerRuntime): string {
  if (!server.url) throw new DomainError('INVALID_ARGUMENT', `server ${server.server_name} (${server.transport}) has no url`);
  return server.url;
}

/**
 * fetch for the SDK's SSE transport that adds the current call's forwarded headers to its message POSTs; the
 * long-lived GET event stream carries only the server's own headers, never one client's credentials.
 */
const fetchWithRequestHeaders = (url: string | URL, init?: RequestInit): Promise<Response> => {
  const extra = currentRequestHeaders();
  if (!extra || (init?.method ?? 'GET').toUpperCase() !== 'POST') return fetch(url, init);
  const headers = new Headers(init?.headers);
  for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  return fetch(url, { ...init, headers });
};
