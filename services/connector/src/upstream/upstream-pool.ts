import { AsyncLocalStorage } from 'node:async_hooks';
import { Inject, Injectable, Logger, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import {
  ErrorCode,
  McpError,
  ProgressNotificationSchema,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
  type ClientCapabilities,
} from '@modelcontextprotocol/sdk/types.js';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { Bus } from '#libs/bus';
import {
  clientNotificationContract,
  clientResponseContract,
  DomainError,
  instanceUpstreamRequest,
  SessionEnded,
  UpstreamCancelled,
  UpstreamListChanged,
  UpstreamRequest,
  type CacheHints,
  type ClientContext,
  type FetchServerCatalog,
  type McpServerRuntime,
  type ReplyOf,
  type RequestOf,
  type StreamedClientMessage,
} from '#libs/contracts';
import { UpstreamUrlGuard, type HostResolver } from '#libs/net-guard';
import { inSpan, Metrics, onScrape, secondsSince, SpanKind } from '#libs/observability';
import { ServerDefinitionsService } from '../servers/server-definitions.service.js';
import { Backoff } from './backoff.js';
import { CircuitBreaker, judge } from './circuit-breaker.js';
import { guardStdout, MAX_STDIO_LINE_BYTES } from './stdio-guard.js';
import { ClientRelay, type CallStream } from './client-relay.js';
import { ModernCall } from './modern-call.js';
import { LEGACY_ONLY_METHODS, MODERN_PROTOCOL_VERSION, ModernClient, type InputFulfiller } from './modern-client.js';
import { ParkedCalls } from './parked-calls.js';
import { buildServerHeaders, mergeHeaders } from './headers.js';
import { SessionExpiredError, StreamableHttpTransport, UpstreamHttpError } from './http-transport.js';
import { NegotiatingTransport } from './negotiating-transport.js';
import { Cancellation } from './cancellation.js';
import { DirectRequests, type DirectRequestOptions } from './direct-requests.js';
import { currentRequestHeaders, withRequestHeaders } from './request-context.js';
import { Semaphore } from './semaphore.js';
import { toUpstreamError } from './upstream-errors.js';
import { authorizationPlaceholder, challengeFor, FOR_CATALOG, UpstreamAuth, UpstreamAuthorizationRequired, type UpstreamAuthorization, type UpstreamCaller } from './upstream-auth.js';

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
  /** A client's own upstream session is closed after this long without a request (ms). */
  clientSessionIdleMs: number;
  /** At most this many per-client stdio processes per server; past it such clients share one session per capability set. */
  maxClientStdioSessions: number;
}
export const DEFAULT_POOL_OPTIONS: UpstreamPoolOptions = {
  defaultTimeoutMs: 60_000,
  replyMarginMs: 50,
  restartInitialMs: 500,
  restartMaxMs: 30_000,
  clientSessionIdleMs: 10 * 60_000,
  maxClientStdioSessions: 4,
};

/** The pseudo client session of the catalog's per-capability tool lists. */
const CATALOG_SESSION = 'catalog-';
/** Why a connect was given up: the server's definition changed meanwhile (the request is tried once more). */
const DEFINITION_CHANGED = 'definition_changed';
/** MCP 2026-07-28's MissingRequiredClientCapabilityError. */
const MISSING_REQUIRED_CLIENT_CAPABILITY = -32021;
/** Slots of 2026-07-28 callers: `modern:{principal}:{capabilities}`. */
const MODERN_SLOT = 'modern:';

/** Client capabilities that make an upstream show more (tools needing them) and send requests back. */
const CLIENT_FEATURES = ['elicitation', 'roots', 'sampling'] as const;

/** The forwarded call whose upstream request the current async context belongs to (see clientOf). */
const callInFlight = new AsyncLocalStorage<CallStream>();

const CLIENT_INFO = { name: 'switchboard-connector', version: '0.1.0' };
/**
 * One JSON Schema validator for every upstream session's Client: the SDK makes an Ajv instance (with every format)
 * per Client otherwise, a few ms each, for validation the pool never asks for (it calls `request`, not `callTool`).
 */
const SCHEMA_VALIDATOR = new AjvJsonSchemaValidator();
const MAX_CATALOG_PAGES = 1_000;

interface Session {
  /** The SDK's client (2025 revisions, a session) or ours for an upstream speaking 2026-07-28 (no session). */
  client: Client | ModernClient;
  transport: NegotiatingTransport;
  inner: Transport;
  startedAt: number;
  /** Set when we close it ourselves, so its onclose is not taken for a crash. */
  closing: boolean;
  /** Forwarded calls in flight on this session, in arrival order. */
  calls: Set<CallStream>;
  /** Our progress token of a call in flight -> where its progress goes (with the client's own token). */
  progress: Map<string, (params: Record<string, unknown>) => void>;
  /** A connected 2025 session's requests that need none of the SDK's handling (forwarded calls, catalog pages). */
  direct?: DirectRequests;
}

/**
 * One upstream session of a server and what it is for: `''` the pooled session every stateless request shares;
 * `caps:{set}` a shared session declaring a capability set (clients past the stdio cap); `catalog:{set}` the
 * catalog's capability-only tool lists; `client:{session}` a client's own session, created with its capabilities.
 */
interface Slot {
  key: string;
  capabilities: ClientCapabilities;
  /** The client session a `client:` slot belongs to. */
  owner: string | undefined;
  session: Session | undefined;
  connecting: Promise<Session> | undefined;
  lastUsed: number;
}

interface PoolEntry {
  server: McpServerRuntime;
  headers: Record<string, string>;
  semaphore: Semaphore | undefined;
  /** The registry's IP range rules for this server, checked on every connection to it. */
  guard: UpstreamUrlGuard;
  slots: Map<string, Slot>;
  backoff: Backoff;
  /** Fails calls at once while the upstream keeps failing (circuit-breaker.ts). */
  breaker: CircuitBreaker;
  /**
   * Which revision family the upstream speaks, learned once per definition: `server/discover` first (Streamable
   * HTTP only), `initialize` when it does not answer that. A modern upstream's client is shared by every slot.
   */
  era?: Promise<ModernClient | undefined>;
  /** Ends the modern upstream's subscriptions/listen stream. */
  stopListening?: () => void;
  /** A stdio server's capability-only tools, kept while its common tool list is the same (names). */
  capabilityTools?: { fingerprint: string; tools: Record<string, UpstreamToolList> };
}

type UpstreamToolList = ReplyOf<typeof FetchServerCatalog>['tools'];

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
 * The upstream MCP sessions of this connector instance. Stateless traffic shares one pooled session per server
 * (never an `initialize` per call); a client that needs per-client state (it declared sampling, elicitation or
 * roots, subscribed to a resource, set a log level) gets a session of its own per server, created lazily with its
 * capabilities and closed after an idle timeout. Streamable HTTP sessions are re-initialized once, transparently,
 * when the upstream forgets them (404); stdio servers are restarted with backoff when they die; everything is
 * closed on shutdown.
 */
@Injectable()
export class UpstreamPool implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(UpstreamPool.name);
  private readonly entries = new Map<string, PoolEntry>();
  private readonly options: UpstreamPoolOptions;
  /** This instance's id: its subjects (instance requests, client answers) and the ids of its client requests. */
  readonly instance = randomBytes(6).toString('hex');
  private readonly relay: ClientRelay;
  /** Modern clients' calls waiting for the client's input, by park id. */
  private readonly parked = new ParkedCalls((call) => this.relay.abandon(call.sessionId));
  /** Calls in flight by client session and request id (notifications/cancelled names them so). */
  private readonly inflight = new Map<string, Cancellation>();
  private readonly stops: (() => void)[] = [];
  /** Sessions being closed, awaited at shutdown. */
  private readonly closing = new Set<Promise<void>>();
  /** Processes of the stdio servers this pool started and has not seen exit, terminated at shutdown whatever their slot. */
  private readonly stdioPids = new Set<number>();
  private progressSeq = 0;
  /** Upstream OAuth: machine tokens and per-user tokens (upstream-auth.ts). */
  private readonly auth: UpstreamAuth;
  private sweeper: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    @Inject(ServerDefinitionsService) private readonly definitions: ServerDefinitionsService,
    @Inject(Bus) private readonly bus: Bus,
    @Optional() @Inject(UPSTREAM_POOL_OPTIONS) options?: Partial<UpstreamPoolOptions>,
    @Optional() @Inject(UpstreamAuth) auth?: UpstreamAuth,
  ) {
    this.options = { ...DEFAULT_POOL_OPTIONS, ...options };
    this.auth = auth ?? new UpstreamAuth(bus);
    this.relay = new ClientRelay(this.instance, bus);
  }

  onModuleInit(): void {
    this.definitions.onChange((serverId, serverName) => void this.drop(serverId, serverName));
    this.stops.push(onScrape(() => this.refreshGauges()));
    const queue = `connector-${this.instance}`;
    this.stops.push(
      this.bus.serve(instanceUpstreamRequest(this.instance), queue, (data, ctx) =>
        this.request(data as RequestOf<typeof UpstreamRequest>, (ctx.meta.deadline ?? Infinity) - Date.now(), (m) => ctx.send(m)),
      ),
      this.bus.serve(clientResponseContract(this.instance), queue, async (data) => {
        const { session_id, response } = data as { session_id: string; response: { id: string | number } };
        return { delivered: this.relay.deliver(session_id, response) };
      }),
      this.bus.serve(clientNotificationContract(this.instance), queue, async (data) => {
        const { session_id, notification } = data as { session_id: string; notification: { method: string; params?: Record<string, unknown> } };
        return { delivered: await this.notifyUpstreams(session_id, notification) };
      }),
      this.bus.subscribe(UpstreamCancelled, ({ session_id, request_id, reason }) => {
        const call = this.inflight.get(callKey(session_id, request_id));
        if (!call) return;
        // the SDK sends the upstream notifications/cancelled with the upstream's own request id
        this.log.log(`client session ${session_id} cancelled request ${request_id}: cancelling it upstream`);
        call.abort(reason ?? 'cancelled by the client');
      }),
      this.bus.subscribe(SessionEnded, ({ session_id }) => void this.closeClientSessions(session_id)),
    );
    this.sweeper = setInterval(() => this.closeIdle(), Math.min(30_000, Math.max(1_000, this.options.clientSessionIdleMs / 4)));
    this.sweeper.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    for (const stop of this.stops.splice(0)) stop();
    clearInterval(this.sweeper);
    this.relay.close();
    this.parked.close();
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(entries.map((entry) => this.closeEntry(entry)));
    // sessions closed earlier may still be closing (a stdio server is given time to exit), and a connect may have
    // been in flight: whatever stdio process this pool started and is still there gets SIGTERM now
    for (const pid of this.stdioPids) terminate(pid);
    await Promise.allSettled([...this.closing]);
  }

  /**
   * Forwards one MCP request and returns the upstream's `result` as it came. What the upstream sends during the
   * call (progress for the client's token, logs, requests to the client) is streamed through `send`.
   */
  async request(req: RequestOf<typeof UpstreamRequest>, budgetMs: number, send?: (message: StreamedClientMessage) => void): Promise<ReplyOf<typeof UpstreamRequest>> {
    const started = process.hrtime.bigint();
    let outcome = 'ok';
    try {
      return await inSpan(`upstream ${req.method}`, SpanKind.CLIENT, { 'mcp.method.name': req.method, 'switchboard.server_id': req.server_id }, () => this.forward(req, budgetMs, send));
    } catch (error) {
      outcome = (error as { code?: string }).code ?? 'INTERNAL';
      throw error;
    } finally {
      const server = this.entries.get(req.server_id)?.server.server_name ?? req.server_id;
      Metrics.upstreamRequestDuration.observe({ server, method: req.method, outcome }, secondsSince(started));
    }
  }

  private async forward(req: RequestOf<typeof UpstreamRequest>, budgetMs: number, send?: (message: StreamedClientMessage) => void): Promise<ReplyOf<typeof UpstreamRequest>> {
    if (req.resume) return this.resume(req, send);
    const client = req.client;
    if (client?.era === 'modern') {
      const call = new ModernCall(client.principal, send, client.capabilities);
      this.call(req, budgetMs, call, send).then(
        ({ result }) => call.settle({ result }),
        (error: unknown) => call.settle({ error }),
      );
      return this.step(call);
    }
    const stream: CallStream | undefined = client && send ? { sessionId: client.session_id, send } : undefined;
    return this.call(req, budgetMs, stream, send);
  }

  /** One upstream request on the session the request's client gets; what the upstream sends during it goes to `stream`. */
  private async call(
    req: RequestOf<typeof UpstreamRequest>,
    budgetMs: number,
    stream: CallStream | undefined,
    send: ((message: StreamedClientMessage) => void) | undefined,
  ): Promise<ReplyOf<typeof UpstreamRequest>> {
    const client = req.client;
    let slotKey = '';
    const result = await this.run(req.server_id, budgetMs, req.forward_headers, client, (key) => (slotKey = key), req.user, async (session, timeout) => {
      const params = { ...(req.params ?? {}) } as Record<string, unknown> & { _meta?: Record<string, unknown> };
      const progressToken = params._meta?.progressToken;
      // The client's token is replaced by one unique in this connector, so that two clients sharing an upstream
      // session never collide; progress comes back under the client's own token (through the stream, which a
      // modern call points at whichever client request waits on it).
      let ownToken: string | undefined;
      if (progressToken !== undefined && send) {
        ownToken = `sb-${this.instance}-p${++this.progressSeq}`;
        params._meta = { ...params._meta, progressToken: ownToken };
        const progressTo = stream ?? { send };
        session.progress.set(ownToken, (progress) => progressTo.send({ message: { jsonrpc: '2.0', method: 'notifications/progress', params: { ...progress, progressToken } } }));
      }
      const cancellation = client?.request_id !== undefined ? new Cancellation() : undefined;
      const key = cancellation ? callKey(client!.session_id, client!.request_id!) : undefined;
      if (key) this.inflight.set(key, cancellation!);
      if (stream) session.calls.add(stream);
      try {
        const options = { timeout, cancellation };
        if (session.client instanceof ModernClient && LEGACY_ONLY_METHODS.has(req.method)) {
          // gone in 2026-07-28: kept for the 2025-era client of this session by the client's own means
          return session.client.emulate(req.method, params, (notification) => client && this.relay.notify(client.session_id, undefined, notification as never));
        }
        if (session.client instanceof ModernClient) {
          // a modern upstream answers on the request's own stream: its notifications go to this call's client,
          // and its input_required is answered with real requests to a 2025-era client (a modern one answers itself)
          const result = await session.client.request({ method: req.method, params }, LooseResult, {
            ...options,
            onNotification: (notification) => this.onModernNotification(session, stream, notification),
            ...(stream && !stream.ask ? { fulfil: this.askClient(stream, cancellation) } : {}),
          });
          // the 2025 revisions have no result types
          if (client?.era !== 'modern') delete result.resultType;
          return result;
        }
        // the call is the async context of its request: a server request on that request's own stream finds it
        return await (stream ? callInFlight.run(stream, () => requestOn(session, req.method, params, options)) : requestOn(session, req.method, params, options));
      } finally {
        // after the result: a last progress notification that arrived with it was handled first (it was queued first)
        if (ownToken) session.progress.delete(ownToken);
        if (key && this.inflight.get(key) === cancellation) this.inflight.delete(key);
        if (stream) session.calls.delete(stream);
      }
    }, () => stream !== undefined && this.relay.waitingOn(stream.sessionId)).catch((error: unknown) => {
      // a user without a credential for a per-user server: that server's challenge (upstream-auth.ts)
      if (!(error instanceof UpstreamAuthorizationRequired)) throw error;
      const challenge = challengeFor(error, req.method, client);
      if (challenge instanceof DomainError) throw challenge;
      return challenge.result;
    });
    return { result: result as LooseResult, ...(slotKey.startsWith('client:') ? { instance: this.instance } : {}) };
  }

  /** A modern upstream's notification during a call: progress by our token, anything else to the call's client. */
  private onModernNotification(session: Session, stream: CallStream | undefined, notification: { method: string; params?: Record<string, unknown> }): void {
    if (notification.method === 'notifications/progress') {
      const { progressToken, ...progress } = notification.params ?? {};
      session.progress.get(String(progressToken))?.(progress);
    } else {
      stream?.send({ message: { jsonrpc: '2.0', ...notification } });
    }
  }

  /** Asks a 2025-era client what a modern upstream's input_required wants, as real requests; unanswered keys are left out. */
  private askClient(stream: CallStream, cancellation: Cancellation | undefined): InputFulfiller {
    return async (requests) => {
      const answers: Record<string, unknown> = {};
      const extra = { signal: (cancellation ?? new Cancellation()).toSignal() };
      await Promise.all(
        Object.entries(requests).map(async ([key, request]) => {
          try {
            answers[key] = await this.relay.request(stream.sessionId, stream, request as never, extra);
          } catch (error) {
            this.log.debug(`the client did not answer ${request.method}: ${(error as Error).message}`);
          }
        }),
      );
      return answers;
    };
  }

  /**
   * Answers a bus request waiting on a modern call with the call's next step. Questions for the client park the
   * call here (the reply names this instance and the park id, which the edge seals into the client's
   * requestState) until the client resumes it or it has waited too long.
   */
  private async step(call: ModernCall): Promise<ReplyOf<typeof UpstreamRequest>> {
    const step = await call.next();
    if (step.kind === 'failed') throw step.error;
    if (step.kind === 'done') return { result: step.result };
    const missing = call.missingCapabilities(step.requests);
    if (missing) {
      // the client cannot answer: the upstream's requests fail, and the client learns what it would have to declare
      this.relay.abandon(call.sessionId);
      throw new DomainError('INVALID_ARGUMENT', `the server needs client capabilities this request did not declare: ${Object.keys(missing).join(', ')}`, {
        jsonrpc_code: MISSING_REQUIRED_CLIENT_CAPABILITY,
        data: { requiredCapabilities: missing },
      });
    }
    this.parked.park(call);
    return { result: {}, instance: this.instance, input_required: { park_id: call.parkId, requests: step.requests } };
  }

  /** A modern client's retry with its answers: the parked call goes on; a call no longer held is NOT_FOUND. */
  private async resume(req: RequestOf<typeof UpstreamRequest>, send?: (message: StreamedClientMessage) => void): Promise<ReplyOf<typeof UpstreamRequest>> {
    const { park_id, responses } = req.resume!;
    const call = this.parked.take(park_id, req.client?.principal);
    if (!call) {
      throw new DomainError('NOT_FOUND', 'the call this requestState continues is no longer held (it completed, expired or its connector stopped); call again without requestState', {
        reason: 'gone',
      });
    }
    for (const [id, result] of call.resume(send, responses)) this.relay.deliver(call.sessionId, { id, result });
    return this.step(call);
  }

  /** Open sessions by transport and stdio processes, for the metrics (several connectors in one process add up). */
  private refreshGauges(): void {
    for (const entry of this.entries.values()) {
      const open = [...entry.slots.values()].filter((slot) => slot.session).length;
      if (open === 0) continue;
      Metrics.upstreamSessions.inc({ transport: entry.server.transport }, open);
      if (entry.server.transport === 'stdio') Metrics.stdioProcesses.inc(open);
    }
  }

  /**
   * Every tool, prompt and resource of one upstream (all pages), its serverInfo and the protocol version it chose.
   * The lists go out together on the pooled session; the tools shown only to clients declaring a capability are
   * asked at the same time on a session declaring all of them (`catalogCapabilityTools`).
   */
  async fetchCatalog(req: RequestOf<typeof FetchServerCatalog>, budgetMs: number): Promise<ReplyOf<typeof FetchServerCatalog>> {
    // The capability session connects beside the pooled one (its initialize goes out with the pooled session's),
    // not after it; on a stdio server it waits (below). It is a companion: only the pooled session's outcome counts
    // against the circuit breaker, so a down upstream counts once per fetch.
    const early = this.companionProbe(req.server_id, budgetMs);
    let probing: Promise<UpstreamToolList> | undefined;
    const fetched = await this.run(req.server_id, budgetMs, undefined, undefined, undefined, FOR_CATALOG, async (session, _timeout, deadline) => {
      const capabilities = (session.client.getServerCapabilities() ?? {}) as Record<string, unknown>;
      // The upstream answered: its capability-only tools are asked now, beside the lists. Not on a stdio server, where
      // a session is a process: there they wait for the common list, and are kept while that stays the same.
      if (capabilities.tools && !(session.inner instanceof StdioClientTransport)) {
        probing ??= early.then((list) => list ?? this.listDeclaring(req.server_id, remaining(deadline), CLIENT_FEATURES));
        probing.catch(() => undefined); // awaited below, unless a list fails first
      }
      const hints: CacheHints = {};
      const [tools, prompts, resources, resource_templates] = await Promise.all([
        capabilities.tools ? listAll<UpstreamToolList[number]>(session, 'tools/list', 'tools', deadline, hints) : [],
        capabilities.prompts ? listAll<{ name: string }>(session, 'prompts/list', 'prompts', deadline, hints).catch(() => []) : [],
        capabilities.resources ? listAll<{ uri: string }>(session, 'resources/list', 'resources', deadline, hints).catch(() => []) : [],
        capabilities.resources ? listAll<{ uriTemplate: string }>(session, 'resources/templates/list', 'resourceTemplates', deadline, hints).catch(() => []) : [],
      ]);
      const info = session.client.getServerVersion();
      return {
        tools,
        prompts,
        resources,
        resource_templates,
        capabilities,
        server_info: info ? { ...(info as Record<string, unknown>) } : null,
        protocol_version: session.transport.negotiatedVersion ?? null,
        ...(Object.keys(hints).length ? { cache_hints: hints } : {}),
      };
    }).catch((error: unknown) => {
      if (!(error instanceof UpstreamAuthorizationRequired)) throw error;
      return undefined;
    });
    // a per-user server no user has authorized yet lists one tool saying so, never an empty list
    if (!fetched) return authorizationPlaceholder(await this.definitions.get(req.server_id));
    const base = fetched;
    const entry = this.entries.get(req.server_id) ?? [...this.entries.values()].find((e) => e.server.server_name === req.server_id);
    const fingerprint = JSON.stringify(base.tools.map((t) => t.name));
    if (entry?.server.transport === 'stdio' && entry.capabilityTools?.fingerprint === fingerprint) return { ...base, capability_tools: entry.capabilityTools.tools };
    const capability_tools = base.capabilities.tools ? await this.catalogCapabilityTools(req.server_id, budgetMs, base.tools, probing) : {};
    if (entry?.server.transport === 'stdio') {
      entry.capabilityTools = { fingerprint, tools: capability_tools };
      for (const slot of [...entry.slots.values()]) {
        if (slot.key.startsWith('catalog:') && !slot.connecting && (slot.session?.calls.size ?? 0) === 0) void this.closeSlot(entry, slot, 'catalog fetched');
      }
    }
    return { ...base, capability_tools };
  }

  /**
   * Tools some upstreams list only to clients declaring a capability, kept as the extras per capability. One session
   * declaring every capability asks first: a client declaring more is shown at least what one declaring less is (the
   * edge adds the extras of each capability a client declared on the same assumption), so when it shows nothing beyond
   * the common list, no capability adds anything. Only when it does is each capability asked on a session of its
   * own, all at once, kept in CLIENT_FEATURES order so that the catalog's content does not depend on which answered
   * first.
   */
  private async catalogCapabilityTools(
    serverRef: string,
    budgetMs: number,
    common: UpstreamToolList,
    probing = this.listDeclaring(serverRef, budgetMs, CLIENT_FEATURES),
  ): Promise<Record<string, UpstreamToolList>> {
    const known = new Set(common.map((t) => t.name));
    const all = await probing.catch((error: unknown) => {
      this.log.debug(`tools/list declaring ${CLIENT_FEATURES.join(', ')} failed: ${(error as Error).message}`);
      return undefined;
    });
    if (all && !all.some((t) => !known.has(t.name))) return {};
    const lists = await Promise.all(
      CLIENT_FEATURES.map((feature) =>
        this.listDeclaring(serverRef, budgetMs, [feature]).catch((error: unknown) => {
          this.log.debug(`tools/list declaring ${feature} failed: ${(error as Error).message}`);
          return [];
        }),
      ),
    );
    const capability_tools: Record<string, UpstreamToolList> = {};
    CLIENT_FEATURES.forEach((feature, i) => {
      const extra = lists[i]!.filter((t) => !known.has(t.name));
      if (extra.length) capability_tools[feature] = extra;
    });
    return capability_tools;
  }

  /**
   * The capability-only tools, asked at the start of a catalog fetch beside the pooled session (a companion run).
   * Undefined when not asked: a stdio server (a session is a process: its lists wait for the common one), the
   * definition not to be had, the circuit not closed; the fetch then asks once the pooled session answered.
   */
  private companionProbe(serverRef: string, budgetMs: number): Promise<UpstreamToolList | undefined> {
    const started = Date.now();
    const probing = this.definitions.get(serverRef, started + budgetMs).then(
      (server) => (server.transport === 'stdio' ? undefined : this.listDeclaring(serverRef, budgetMs - (Date.now() - started), CLIENT_FEATURES, true)),
      () => undefined,
    );
    const list = probing.catch((error: unknown) => (error instanceof CompanionSkipped ? undefined : Promise.reject(error)));
    list.catch(() => undefined); // awaited only when the server has tools
    return list;
  }

  /** tools/list on the catalog's own session declaring `features` (slot `catalog:{features}`). */
  private listDeclaring(serverRef: string, budgetMs: number, features: readonly (typeof CLIENT_FEATURES)[number][], companion = false): Promise<UpstreamToolList> {
    const context: ClientContext = { session_id: `${CATALOG_SESSION}${features.join('+')}`, capabilities: Object.fromEntries(features.map((f) => [f, {}])), dedicated: false };
    return this.run(
      serverRef,
      budgetMs,
      undefined,
      context,
      undefined,
      FOR_CATALOG,
      (session, _t, deadline) => {
        // an upstream without tools lists none, whatever the client declares
        if (!(session.client.getServerCapabilities() as Record<string, unknown> | undefined)?.tools) return Promise.resolve([]);
        return listAll<UpstreamToolList[number]>(session, 'tools/list', 'tools', deadline);
      },
      undefined,
      companion,
    );
  }

  state(serverId: string): PoolEntryState | undefined {
    const entry = this.entries.get(serverId) ?? [...this.entries.values()].find((e) => e.server.server_name === serverId);
    if (!entry) return undefined;
    const session = entry.slots.get('')?.session;
    const inner = session?.inner;
    return {
      server_id: entry.server.server_id,
      revision: entry.server.revision,
      connected: session !== undefined,
      session_id: session?.transport.sessionId,
      pid: inner instanceof StdioClientTransport ? inner.pid : null,
      restarts: entry.backoff.attempts,
      protocol_version: session?.transport.negotiatedVersion,
    };
  }

  /** The slots of a server with a live upstream session: '' pooled, caps:…, catalog:…, client:… (tests). */
  openSessions(serverId: string): string[] {
    const entry = this.entries.get(serverId);
    return entry ? [...entry.slots.values()].filter((s) => s.session).map((s) => s.key) : [];
  }

  /** The client sessions with an upstream session of their own on a server (tests and health checks). */
  clientSessions(serverId: string): string[] {
    const entry = this.entries.get(serverId);
    return entry ? [...entry.slots.values()].filter((s) => s.owner && s.session).map((s) => s.owner!) : [];
  }

  /** The pooled HTTP transport of a server (tests measure it). */
  transportOf(serverId: string): Transport | undefined {
    return this.entries.get(serverId)?.slots.get('')?.session?.inner;
  }

  private async run<T>(
    serverRef: string,
    budgetMs: number,
    forwardHeaders: Record<string, string> | undefined,
    client: ClientContext | undefined,
    onSlot: ((key: string) => void) | undefined,
    user: UpstreamCaller,
    call: (session: Session, timeoutMs: number, deadline: number) => Promise<T>,
    /** True while the upstream waits for the client's answer to its own request (circuit-breaker.ts: `judge`). */
    waitingOnClient: () => boolean = () => false,
    /** Runs beside another run of the same fetch, whose outcome alone counts against the circuit breaker. */
    companion = false,
  ): Promise<T> {
    const started = Date.now();
    try {
      return await this.runOnce(serverRef, budgetMs, forwardHeaders, client, onSlot, user, call, waitingOnClient, companion);
    } catch (error) {
      // The definition changed while this request was connecting (the registry may fetch a changed server before
      // this connector has heard of the change): nothing was sent yet, so once more with the definition as it is now.
      if (!(error instanceof DomainError) || error.details?.reason !== DEFINITION_CHANGED || this.stopped) throw error;
      return this.runOnce(serverRef, budgetMs - (Date.now() - started), forwardHeaders, client, onSlot, user, call, waitingOnClient, companion);
    }
  }

  private async runOnce<T>(
    serverRef: string,
    budgetMs: number,
    forwardHeaders: Record<string, string> | undefined,
    client: ClientContext | undefined,
    onSlot: ((key: string) => void) | undefined,
    user: UpstreamCaller,
    call: (session: Session, timeoutMs: number, deadline: number) => Promise<T>,
    waitingOnClient: () => boolean,
    companion = false,
  ): Promise<T> {
    if (this.stopped) throw new DomainError('UPSTREAM_UNAVAILABLE', 'connector is shutting down');
    const started = Date.now();
    const callerDeadline = started + budgetMs - this.options.replyMarginMs;
    const server = await this.definitions.get(serverRef, callerDeadline);
    const serverTimeoutMs = server.timeout ? server.timeout * 1000 : this.options.defaultTimeoutMs;
    const deadline = Math.min(callerDeadline, started + serverTimeoutMs);
    const timeoutMs = Math.max(0, deadline - started);
    const entry = this.entryFor(server);
    let authorization: UpstreamAuthorization;
    try {
      authorization = await this.auth.authorize(server, user, deadline);
    } catch (error) {
      throw toUpstreamError(error, server.server_name, timeoutMs);
    }
    // a machine token goes with the server's own headers too (its sessions' notification streams)
    if (authorization.shared) Object.assign(entry.headers, authorization.headers);
    const slot = this.slotFor(entry, client, authorization.user);
    onSlot?.(slot.key);
    // the OAuth credential wins over a client's x-mcp-{server}-authorization
    const headers = forwardHeaders || authorization.headers ? mergeHeaders(mergeHeaders({}, forwardHeaders), authorization.headers) : undefined;
    const release = entry.semaphore ? await entry.semaphore.acquire(deadline) : undefined;
    try {
      // a companion never takes a half-open breaker's one trial, and neither its success nor its failure counts
      if (companion && entry.breaker.state !== 'closed') throw new CompanionSkipped();
      if (!companion) entry.breaker.admit();
      const result = await withRequestHeaders(headers, async () => {
        let session = await this.sessionOf(entry, slot, deadline);
        try {
          return await call(session, remaining(deadline), deadline);
        } catch (error) {
          if (error instanceof UpstreamHttpError && error.status === 401 && authorization.headers) {
            // the upstream refused its OAuth token (revoked, or expired by its clock): once more with a new one
            const renewed = await this.auth.renew(server, user, authorization, deadline);
            if (renewed.shared) Object.assign(entry.headers, renewed.headers);
            return await withRequestHeaders(mergeHeaders(mergeHeaders({}, forwardHeaders), renewed.headers), () => call(session, remaining(deadline), deadline));
          }
          if (!(error instanceof SessionExpiredError)) throw error;
          this.log.log(`upstream ${server.server_name} forgot session ${error.sessionId}: re-initializing`);
          this.discard(slot, session);
          session = await this.sessionOf(entry, slot, deadline);
          return await call(session, remaining(deadline), deadline);
        }
      });
      if (!companion) entry.breaker.succeeded();
      return result;
    } catch (error) {
      if (companion) throw error instanceof CompanionSkipped ? error : toUpstreamError(error, server.server_name, timeoutMs);
      throw judge(entry.breaker, toUpstreamError(error, server.server_name, timeoutMs), (message) => this.log.warn(message), waitingOnClient());
    } finally {
      slot.lastUsed = Date.now();
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
      slots: new Map(),
      backoff: new Backoff(this.options.restartInitialMs, this.options.restartMaxMs),
      breaker: new CircuitBreaker(server.server_name),
    };
    this.entries.set(server.server_id, entry);
    return entry;
  }

  /**
   * Which upstream session serves a request: the pooled one, a capability set's, the client's own, or, for a
   * 2026-07-28 client declaring capabilities, one per caller and capability set (what a 2025-era upstream learns
   * of one client, its roots say, is never shown to another caller).
   */
  private slotFor(entry: PoolEntry, client: ClientContext | undefined, user?: string): Slot {
    const features = client ? CLIENT_FEATURES.filter((f) => client.capabilities[f] !== undefined) : [];
    let key = features.length ? `caps:${features.join('+')}` : '';
    // per-user credentials: a user's requests never share an upstream session with another user's
    if (user) key = `user:${user}${key ? `:${key}` : ''}`;
    // the catalog's own sessions per capability, apart from those clients share
    if (client?.session_id.startsWith(CATALOG_SESSION)) key = `catalog:${features.join('+')}`;
    let owner: string | undefined;
    const own = client?.era === 'modern' ? (features.length ? `${MODERN_SLOT}${client.principal ?? ''}:${features.join('+')}` : undefined) : client?.dedicated ? `client:${client.session_id}` : undefined;
    if (own) {
      const stdioOwners = entry.server.transport === 'stdio' ? [...entry.slots.values()].filter((s) => s.owner).length : 0;
      if (entry.slots.has(own) || entry.server.transport !== 'stdio' || stdioOwners < this.options.maxClientStdioSessions) {
        key = own;
        owner = own.startsWith('client:') ? client!.session_id : own;
      } else {
        this.log.warn(`upstream ${entry.server.server_name}: ${stdioOwners} per-client stdio sessions already; ${own} shares ${key || 'the pooled session'}`);
      }
    }
    let slot = entry.slots.get(key);
    if (!slot) {
      const capabilities: ClientCapabilities = owner ? clientCapabilities(client!.capabilities) : Object.fromEntries(features.map((f) => [f, client!.capabilities[f] ?? {}]));
      slot = { key, capabilities, owner, session: undefined, connecting: undefined, lastUsed: Date.now() };
      entry.slots.set(key, slot);
    }
    return slot;
  }

  private async sessionOf(entry: PoolEntry, slot: Slot, deadline: number): Promise<Session> {
    if (slot.session) return slot.session;
    if (!slot.connecting) {
      slot.connecting = this.connect(entry, slot, deadline).finally(() => {
        slot.connecting = undefined;
      });
    }
    return slot.connecting;
  }

  private async connect(entry: PoolEntry, slot: Slot, deadline: number): Promise<Session> {
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
    const era = this.modernClientOf(entry, deadline);
    // a 2025-era client's own session keeps 2025 semantics (log level, subscriptions, requests to the client)
    // on an upstream that speaks both eras; everything else takes the cheaper 2026-07-28 path
    const wantsModern = (modern: ModernClient | undefined): modern is ModernClient => modern !== undefined && !(slot.key.startsWith('client:') && modern.speaksLegacy);
    // The era is asked first (server/discover, once per definition): an upstream speaking 2026-07-28 never gets a
    // 2025 initialize it did not ask for
    const modern = await era;
    if (wantsModern(modern)) return this.modernSession(entry, slot, modern);
    return this.adopt(entry, slot, await this.connectLegacy(entry, slot, deadline));
  }

  /** A connected 2025 session becomes the slot's, unless the pool, the definition or the slot went away meanwhile. */
  private async adopt(entry: PoolEntry, slot: Slot, session: Session): Promise<Session> {
    const { server } = entry;
    if (this.stopped || this.entries.get(server.server_id) !== entry || entry.slots.get(slot.key) !== slot) {
      // the pool stopped, the definition changed or the slot was closed while we were connecting
      await this.closeSession(session);
      throw new DomainError('UPSTREAM_UNAVAILABLE', `upstream ${server.server_name} changed while connecting`, { server: server.server_name, reason: DEFINITION_CHANGED });
    }
    slot.session = session;
    const { inner, transport } = session;
    const stdio = server.transport === 'stdio';
    this.log.log(
      `connected to upstream ${server.server_name} over ${server.transport} (protocol ${transport.negotiatedVersion ?? 'unknown'}` +
        `${stdio && inner instanceof StdioClientTransport ? `, pid ${inner.pid}` : ''}` +
        `${slot.owner ? `, for client session ${slot.owner}` : slot.key ? `, ${slot.key}` : ''})`,
    );
    return session;
  }

  /** A 2025-revision session for the slot (SDK Client over our transport), connected; not yet the slot's. */
  private async connectLegacy(entry: PoolEntry, slot: Slot, deadline: number): Promise<Session> {
    const { server } = entry;
    const stdio = server.transport === 'stdio';
    const inner = this.createTransport(server, entry.headers, entry.guard);
    const transport = new NegotiatingTransport(inner, server.spec_version ?? undefined);
    const client = new Client(CLIENT_INFO, { capabilities: slot.capabilities, jsonSchemaValidator: SCHEMA_VALIDATOR });
    const session: Session = { client, transport, inner, startedAt: Date.now(), closing: false, calls: new Set(), progress: new Map() };
    client.onerror = (error) => this.log.debug(`upstream ${server.server_name}: ${error.message}`);
    client.onclose = () => this.onSessionClosed(entry, slot, session);
    const lists = [
      ['tools', ToolListChangedNotificationSchema],
      ['prompts', PromptListChangedNotificationSchema],
      ['resources', ResourceListChangedNotificationSchema],
    ] as const;
    for (const [list, schema] of lists) {
      client.setNotificationHandler(schema, () => {
        this.log.debug(`upstream ${server.server_name}: ${list} list changed`);
        if (list === 'tools') entry.capabilityTools = undefined;
        this.bus.publish(UpstreamListChanged, { server_id: server.server_id, list });
      });
    }
    // Progress for our own tokens, routed by token (in place of the SDK's handler, which drops the notification
    // that arrives together with the result).
    client.setNotificationHandler(ProgressNotificationSchema, (notification) => {
      const { progressToken, ...progress } = notification.params;
      session.progress.get(String(progressToken))?.(progress);
    });
        // Everything else the upstream sends to "its client" is for the client session behind this upstream session.
    client.fallbackNotificationHandler = async (notification) => {
      const target = this.clientOf(slot, session);
      if (target) this.relay.notify(target.sessionId, target.via, notification);
    };
    client.fallbackRequestHandler = async (request, extra) => {
      const target = this.clientOf(slot, session);
      if (target) return this.relay.request(target.sessionId, target.via, request, extra) as never;
      // a shared session: no client's roots to tell. A modern caller's session asks again during a call instead
      // (an empty answer would be kept as that caller's roots).
      if (request.method === 'roots/list' && !slot.key.startsWith(MODERN_SLOT)) return { roots: [] } as never;
      throw new McpError(ErrorCode.MethodNotFound, `${request.method} cannot be answered on a shared upstream session`);
    };
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
    session.direct = new DirectRequests(transport);
    if (inner instanceof StdioClientTransport && inner.pid !== null) this.stdioPids.add(inner.pid);
    return session;
  }

  /**
   * The upstream's client when it speaks 2026-07-28, else undefined (then it gets sessions of the 2025 revisions).
   * Asked once per definition: a `spec_version` of the 2025 revisions in the registry entry skips the question.
   */
  private modernClientOf(entry: PoolEntry, deadline: number): Promise<ModernClient | undefined> {
    const { server } = entry;
    if (server.transport !== 'http' || (server.spec_version && server.spec_version !== MODERN_PROTOCOL_VERSION)) return Promise.resolve(undefined);
    if (!entry.era) {
      const transport = this.createTransport(server, entry.headers, entry.guard) as StreamableHttpTransport;
      const client = new ModernClient(transport, CLIENT_INFO, {});
      entry.era = client.discover(remaining(deadline)).then(
        async (discovery) => {
          if (discovery) {
            this.log.log(`upstream ${server.server_name} speaks ${MODERN_PROTOCOL_VERSION} (no sessions)`);
            this.listenForListChanges(entry, client, discovery.capabilities);
            return client;
          }
          await transport.close();
          return undefined;
        },
        async (error: unknown) => {
          entry.era = undefined; // unreachable now: ask again next time
          await transport.close();
          throw error;
        },
      );
    }
    return entry.era;
  }

  /**
   * A modern upstream tells of list changes only on a `subscriptions/listen` stream: one per connector instance
   * and upstream, for the lists it says change, published as UpstreamListChanged as the 2025 sessions' are.
   */
  private listenForListChanges(entry: PoolEntry, client: ModernClient, capabilities: Record<string, unknown>): void {
    const lists = (['tools', 'prompts', 'resources'] as const).filter((list) => (capabilities[list] as { listChanged?: boolean } | undefined)?.listChanged);
    if (!lists.length) return;
    const filter = Object.fromEntries(lists.map((list) => [`${list}ListChanged`, true]));
    entry.stopListening = client.listen(filter, (notification) => {
      const list = lists.find((l) => notification.method === `notifications/${l}/list_changed`);
      if (!list) return;
      this.log.debug(`upstream ${entry.server.server_name}: ${list} list changed`);
      if (list === 'tools') entry.capabilityTools = undefined;
      this.bus.publish(UpstreamListChanged, { server_id: entry.server.server_id, list });
    });
  }

  /** A slot's "session" on a modern upstream: the shared client, declaring the slot's capabilities. */
  private modernSession(entry: PoolEntry, slot: Slot, modern: ModernClient): Session {
    const transport = new NegotiatingTransport(modern.transport);
    transport.negotiatedVersion = MODERN_PROTOCOL_VERSION;
    const session: Session = { client: modern.withCapabilities(slot.capabilities), transport, inner: modern.transport, startedAt: Date.now(), closing: false, calls: new Set(), progress: new Map() };
    slot.session = session;
    return session;
  }

  /**
   * The client an upstream session's traffic is for: the call whose request's stream it came on (a Streamable HTTP
   * upstream answering a request with an event stream); else the owner's (through its latest call in flight, if
   * any: stdio and the standalone streams name no request); on a shared session, the client of the only call in
   * flight, if exactly one is. A modern caller's session has no one to ask outside a call: its client takes requests
   * only as answers to a call's `input_required`.
   */
  private clientOf(slot: Slot, session: Session): { sessionId: string; via: CallStream | undefined } | undefined {
    const calls = [...session.calls];
    const current = callInFlight.getStore();
    const via = current && session.calls.has(current) ? current : slot.owner ? calls.at(-1) : calls.length === 1 ? calls[0] : undefined;
    if (slot.key.startsWith(MODERN_SLOT)) return via && { sessionId: via.sessionId, via };
    if (slot.owner) return { sessionId: via?.sessionId ?? slot.owner, via };
    return via && { sessionId: via.sessionId, via };
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
          maxBufferSize: MAX_STDIO_LINE_BYTES + 64 * 1024,
        });
        // a flood on stdout kills the process (and it restarts with backoff) instead of holding this connector
        guardStdout(transport, (bytes) => this.log.warn(`stdio server ${server.server_name} wrote ${bytes} bytes on stdout without a newline: killed`));
        // always drained, or a chatty child blocks on a full pipe
        transport.stderr?.on('data', (chunk: Buffer) => {
          const text = chunk.toString('utf8').trimEnd();
          if (text) this.log.debug(`[${server.server_name} stderr] ${text}`);
        });
        return transport;
      }
    }
  }

  private onSessionClosed(entry: PoolEntry, slot: Slot, session: Session): void {
    if (session.closing || slot.session !== session) return;
    slot.session = undefined;
    const { server } = entry;
    if (slot.owner) this.relay.abandon(slot.owner);
    if (server.transport === 'stdio') {
      const delay = entry.backoff.fail(Date.now() - session.startedAt);
      this.log.warn(`stdio server ${server.server_name} exited unexpectedly; restart allowed in ${delay} ms (failure ${entry.backoff.attempts})`);
    } else {
      this.log.warn(`upstream ${server.server_name} closed its connection; reconnecting on the next request`);
    }
  }

  private discard(slot: Slot, session: Session): void {
    session.closing = true;
    if (slot.session === session) slot.session = undefined;
    void session.client.close().catch(() => undefined);
  }

  /** Passes a client's notification (roots changed) to its own upstream sessions here; returns how many got it. */
  private async notifyUpstreams(sessionId: string, notification: { method: string; params?: Record<string, unknown> }): Promise<number> {
    let delivered = 0;
    for (const entry of this.entries.values()) {
      const session = entry.slots.get(`client:${sessionId}`)?.session;
      if (!session) continue;
      await session.client.notification(notification as never).then(
        () => delivered++,
        (error: Error) => this.log.warn(`${notification.method} to ${entry.server.server_name} failed: ${error.message}`),
      );
    }
    return delivered;
  }

  /** Closes the upstream sessions a client session had (it ended). */
  private async closeClientSessions(sessionId: string): Promise<void> {
    this.relay.abandon(sessionId);
    for (const entry of this.entries.values()) {
      const slot = entry.slots.get(`client:${sessionId}`);
      if (slot) await this.closeSlot(entry, slot, 'the client session ended');
    }
  }

  /** Closes per-client and per-user sessions idle for longer than the idle timeout (never one with a call in flight). */
  private closeIdle(): void {
    const cutoff = Date.now() - this.options.clientSessionIdleMs;
    for (const entry of this.entries.values()) {
      for (const slot of entry.slots.values()) {
        // a client's own sessions, and a user's (per-user upstream OAuth)
        if ((!slot.owner && !slot.key.startsWith('user:')) || slot.lastUsed > cutoff || slot.connecting || (slot.session?.calls.size ?? 0) > 0) continue;
        void this.closeSlot(entry, slot, `idle for ${Math.round(this.options.clientSessionIdleMs / 1000)} s`);
      }
    }
  }

  private async closeSlot(entry: PoolEntry, slot: Slot, why: string): Promise<void> {
    if (entry.slots.get(slot.key) === slot) entry.slots.delete(slot.key);
    const session = slot.session;
    slot.session = undefined;
    if (session) {
      this.log.log(`closing the upstream session of ${entry.server.server_name} ${slot.owner ? `for client session ${slot.owner}` : slot.key}: ${why}`);
      await this.closeSession(session);
    }
  }

  /**
   * Closes one session, tracked until done. The SDK gives a stdio server 2 s to exit after its stdin closes, then
   * SIGTERM; while this connector is stopping it gets SIGTERM at once, so that no process outlives the connector.
   */
  private async closeSession(session: Session): Promise<void> {
    session.closing = true;
    const pid = session.inner instanceof StdioClientTransport ? session.inner.pid : null; // gone once close() starts
    const closing = session.client.close().catch(() => undefined);
    this.closing.add(closing);
    if (this.stopped && pid !== null) terminate(pid);
    await closing;
    this.closing.delete(closing);
    if (pid !== null) this.stdioPids.delete(pid);
  }

  private async drop(serverId: string, serverName: string): Promise<void> {
    // taken out first, then closed: a request of the new definition adds its entry while the old ones close, and a
    // loop over the live map would find that one too and close it under the request (changed while connecting)
    const dropped = [...this.entries].filter(([key, entry]) => key === serverId || entry.server.server_name === serverName);
    for (const [key] of dropped) this.entries.delete(key);
    await Promise.all(dropped.map(([, entry]) => this.closeEntry(entry)));
  }

  private async closeEntry(entry: PoolEntry): Promise<void> {
    const slots = [...entry.slots.values()];
    entry.slots.clear();
    entry.stopListening?.();
    void entry.era?.then((modern) => modern?.close()).catch(() => undefined);
    await Promise.all(
      slots.map(async (slot) => {
        const session = slot.session;
        slot.session = undefined;
        const pending = slot.connecting;
        if (session) await this.closeSession(session);
        // a connect still in flight notices the slot is gone and closes its own session; don't wait long for it
        if (pending) await Promise.race([pending.catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
      }),
    );
  }
}

/** A companion run not made: the circuit is not closed (its main run decides). */
class CompanionSkipped extends Error {
  constructor() {
    super('companion run skipped: circuit not closed');
  }
}

function callKey(sessionId: string, requestId: string | number): string {
  return `${sessionId}\u0000${typeof requestId}:${requestId}`;
}

/** The capabilities a client declared, as its own upstream session declares them (experimental and tasks left out). */
function clientCapabilities(declared: Record<string, unknown>): ClientCapabilities {
  const out: Record<string, unknown> = {};
  for (const feature of CLIENT_FEATURES) if (declared[feature] !== undefined) out[feature] = declared[feature];
  return out as ClientCapabilities;
}

/** One request whose result is passed on as it is: past the SDK's client on a 2025 session, else through ours. */
function requestOn(session: Session, method: string, params: Record<string, unknown> | undefined, options: DirectRequestOptions): Promise<LooseResult> {
  if (session.direct) return session.direct.request(method, params, options);
  const { timeout, cancellation } = options;
  return session.client.request({ method, params } as never, LooseResult, { timeout, signal: cancellation?.toSignal() }) as Promise<LooseResult>;
}

/** Every page of one list method; the cache hints of a 2026-07-28 upstream's pages (the shortest) go to `hints`. */
async function listAll<T>(session: Session, method: string, field: string, deadline: number, hints?: CacheHints): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_CATALOG_PAGES; page++) {
    const params = cursor ? { cursor } : {};
    const reply = await requestOn(session, method, params, { timeout: remaining(deadline) });
    if (Array.isArray(reply[field])) items.push(...(reply[field] as T[]));
    if (hints && typeof reply.ttlMs === 'number' && reply.ttlMs >= 0) {
      const hint = { ttl_ms: Math.floor(reply.ttlMs), scope: reply.cacheScope === 'private' ? ('private' as const) : ('public' as const) };
      const seen = hints[method];
      hints[method] = seen ? { ttl_ms: Math.min(seen.ttl_ms, hint.ttl_ms), scope: seen.scope === 'private' ? 'private' : hint.scope } : hint;
    }
    cursor = typeof reply.nextCursor === 'string' && reply.nextCursor ? reply.nextCursor : undefined;
    if (!cursor) break;
  }
  return items;
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

/** SIGTERM to a stdio server's process, if it is still there and still this process's child (pids are reused). */
function terminate(pid: number): void {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); // Linux; elsewhere the catch below just sends it
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (parent !== process.pid) return;
  } catch {
    if (process.platform === 'linux') return; // no such process any more
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
}
