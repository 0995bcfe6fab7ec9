import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Bus } from '#libs/bus';
import { DomainError, KeysChanged, type CatalogServer } from '#libs/contracts';
import { PrincipalService } from '../auth/principal.service.js';
import { AccessService } from '../catalog/access.service.js';
import { CatalogService, type PreparedCatalog } from '../catalog/catalog.service.js';
import { EDGE_SETTINGS, type EdgeSettings } from '../edge-settings.js';
import { jsonParts } from './json-text.js';
import { errorJson, JsonRpcErrorCode, notificationJson, type JsonRpcId, type JsonRpcRequest } from './jsonrpc.js';
import { forwardHeaders, McpDispatcher, type McpCallContext } from './mcp.dispatcher.js';
import { featureKey, McpIndex } from './mcp-index.js';
import { ModernRejection, SERVER_INFO_META_KEY } from './modern.js';
import { ResourceWatches } from './subscriptions-upstream.js';

export const LISTEN_METHOD = 'subscriptions/listen';
export const SUBSCRIPTION_ID_META_KEY = 'io.modelcontextprotocol/subscriptionId';

const KEEPALIVE_MS = 25_000;
/** At most this many URIs in one listen's `resourceSubscriptions`. */
const MAX_RESOURCE_SUBSCRIPTIONS = 100;
/** How often a resource watch subscribes again at most (the connector closes a per-client session idle for 10 min by default). */
const WATCH_REFRESH_MS = 60_000;

/** The list notifications a listen may ask for, and the lists whose content decides them. */
const LISTS = {
  tools: { filter: 'toolsListChanged', methods: ['tools/list'] },
  prompts: { filter: 'promptsListChanged', methods: ['prompts/list'] },
  resources: { filter: 'resourcesListChanged', methods: ['resources/list', 'resources/templates/list'] },
} as const;
type ListName = keyof typeof LISTS;

/** `params.notifications` of subscriptions/listen, and what the acknowledgement says is honoured. */
export interface SubscriptionFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

/** One open listen stream on this replica. */
interface Listener {
  /** The listen request's id: the subscription id every message on the stream carries. */
  id: JsonRpcId;
  /** The request's context; its principal is re-read whenever the key may have changed. */
  ctx: McpCallContext;
  res: ServerResponse;
  /** The honoured lists, with a fingerprint of what the caller saw of each when last told. */
  lists: Map<ListName, string>;
  /** The honoured resource URIs: the server they go to and the release of their upstream watch. */
  resources: Map<string, { serverId: string; release: () => void }>;
  /** Messages held until the acknowledgement is written (nothing may precede it); undefined once it is. */
  held: string[] | undefined;
  closed: boolean;
  refreshing?: Promise<void>;
  refreshAgain: boolean;
  /** The key whose cap the stream counts against, until it is forgotten. */
  countedAs?: string;
}

/**
 * `subscriptions/listen` (MCP 2026-07-28): a POST whose response is an SSE stream that stays open, first
 * `notifications/subscriptions/acknowledged` with what is honoured, then only the notifications asked for, each
 * carrying the listen request's id in `_meta`. Nothing is stored: the stream lives on the replica that took the
 * POST, which learns of changes itself. List changes reach every replica as catalog changes (CatalogChanged); a
 * listener is told when the list as it would see it (its key's permissions, the endpoint's scope, `x-mcp-servers`)
 * changed, so a change to servers it cannot use is never announced. Resource updates come from upstream
 * subscriptions this replica holds for its listeners (ResourceWatches). The stream ends when the client closes
 * it, with a JSON-RPC error when its key stops being valid, and with the listen result when the replica stops.
 */
@Injectable()
export class SubscriptionListeners implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(SubscriptionListeners.name);
  private readonly listeners = new Set<Listener>();
  /** Streams open or being opened, per key (token hash): MAX_LISTEN_STREAMS_PER_KEY. */
  private readonly openPerKey = new Map<string, number>();
  private readonly maxPerKey: number;
  private readonly watches: ResourceWatches;
  private readonly stops: (() => void)[] = [];
  private keepalive?: NodeJS.Timeout;
  private stopping = false;

  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(CatalogService) private readonly catalogs: CatalogService,
    @Inject(AccessService) private readonly access: AccessService,
    @Inject(McpDispatcher) private readonly dispatcher: McpDispatcher,
    @Inject(PrincipalService) private readonly principals: PrincipalService,
    @Inject(EDGE_SETTINGS) settings: EdgeSettings,
  ) {
    this.maxPerKey = settings.env.MAX_LISTEN_STREAMS_PER_KEY;
    const idleMs = settings.file.config.general_settings.mcp_client_session_idle_timeout ?? 10 * 60_000;
    this.watches = new ResourceWatches(bus, randomBytes(6).toString('hex'), Math.max(1_000, Math.min(WATCH_REFRESH_MS, Math.floor(idleMs / 3))));
  }

  onModuleInit(): void {
    this.watches.start();
    this.stops.push(
      this.catalogs.onChange(() => this.listeners.forEach((l) => this.refresh(l))),
      // after PrincipalService has dropped the keys (it hears the same event), the listeners' keys are read again
      this.bus.subscribe(KeysChanged, ({ token_hashes }) => {
        const changed = new Set(token_hashes);
        setImmediate(() => this.listeners.forEach((l) => (changed.size === 0 || changed.has(l.ctx.principal.token_hash ?? '')) && this.refresh(l)));
      }),
    );
    this.keepalive = setInterval(() => this.tick(), KEEPALIVE_MS);
    this.keepalive.unref();
  }

  onModuleDestroy(): void {
    this.close();
  }

  /** Ends every stream with the listen result (this replica stops; clients listen again elsewhere) and every watch. */
  close(): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const stop of this.stops.splice(0)) stop();
    clearInterval(this.keepalive);
    for (const listener of [...this.listeners]) this.end(listener, listenResultJson(listener.id, this.dispatcher.serverInfo(listener.ctx.scope)));
    this.watches.stop();
  }

  /** Open listen streams on this replica (tests, health). */
  get size(): number {
    return this.listeners.size;
  }

  /**
   * Opens one listen stream: decides what is honoured, subscribes the resources upstream, writes the
   * acknowledgement and keeps the response open. Resolves once acknowledged (or answered with an error).
   */
  async open(request: JsonRpcRequest, ctx: McpCallContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.stopping) throw shuttingDown();
    if (!String(req.headers.accept ?? '').includes('text/event-stream')) {
      throw new ModernRejection(406, JsonRpcErrorCode.INVALID_REQUEST, `${LISTEN_METHOD} answers with an SSE stream: send Accept: text/event-stream`);
    }
    const requested = parseFilter(request.params?.notifications);
    if (typeof requested === 'string') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(errorJson(request.id, JsonRpcErrorCode.INVALID_PARAMS, requested));
      return;
    }
    const listener: Listener = { id: request.id, ctx, res, lists: new Map(), resources: new Map(), held: [], closed: false, refreshAgain: false };
    this.count(listener);
    res.on('close', () => this.forget(listener));

    const catalog = await this.catalogs.current();
    const offered = await this.offeredLists(ctx);
    for (const list of Object.keys(LISTS) as ListName[]) {
      if (requested[LISTS[list].filter] === true && offered.has(list)) listener.lists.set(list, await this.fingerprint(list, ctx));
    }
    await Promise.all((requested.resourceSubscriptions ?? []).map((uri) => this.watchResource(listener, catalog, uri)));
    if (listener.closed || this.stopping) {
      this.forget(listener); // the client went away, or this replica began stopping, while we subscribed
      if (this.stopping) throw shuttingDown();
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const honored: SubscriptionFilter = {};
    for (const list of listener.lists.keys()) honored[LISTS[list].filter] = true;
    if (listener.resources.size > 0) honored.resourceSubscriptions = [...listener.resources.keys()];
    res.write(frame(notificationJson('notifications/subscriptions/acknowledged', { _meta: { [SUBSCRIPTION_ID_META_KEY]: listener.id }, notifications: honored })));
    for (const message of listener.held ?? []) res.write(frame(message));
    listener.held = undefined;
    this.listeners.add(listener);
  }

  /** Subscribes one URI for a listener if the caller may read it (by the rules of resources/read) and its server supports it. */
  private async watchResource(listener: Listener, catalog: PreparedCatalog, uri: string): Promise<void> {
    if (listener.resources.has(uri)) return;
    const server = this.serverForUri(catalog, listener.ctx, uri);
    if (!server || (server.capabilities?.resources as { subscribe?: boolean } | undefined)?.subscribe !== true) return;
    const headers = forwardHeaders(server, listener.ctx.headers);
    const { subscribed, release } = await this.watches.watch(server, uri, headers, (params) => this.send(listener, 'notifications/resources/updated', params));
    if (!subscribed) return;
    if (listener.closed) return release();
    listener.resources.set(uri, { serverId: server.server_id, release });
  }

  /** The lists this endpoint offers (what `server/discover` states): a listen is never promised more. */
  private async offeredLists(ctx: McpCallContext): Promise<Set<ListName>> {
    const { capabilities } = JSON.parse(await this.dispatcher.discoverResult(ctx.scope)) as { capabilities: Record<string, unknown> };
    return new Set((Object.keys(LISTS) as ListName[]).filter((list) => capabilities[list] !== undefined));
  }

  /**
   * A hash of a list as this caller sees it now (the very replies of the list methods), memoized per catalog
   * version and permission set: listeners with the same view share it.
   */
  private async fingerprint(list: ListName, ctx: McpCallContext): Promise<string> {
    const catalog = await this.catalogs.current();
    const view = this.access.view(catalog, ctx.principal, ctx.headers);
    const scope = ctx.scope.kind === 'aggregate' ? '*' : ctx.scope.serverName;
    const key = `listen:${list}:${scope}:${featureKey(ctx.session.clientCapabilities)}:${view.fingerprint}:${String(ctx.headers['x-mcp-servers'] ?? '')}`;
    return catalog.memoize(key, async () => {
      const hash = createHash('sha256');
      for (const method of LISTS[list].methods) {
        for (const part of jsonParts(await this.dispatcher.dispatch({ jsonrpc: '2.0', id: 0, method }, ctx))) hash.update(part);
        hash.update('\n');
      }
      return hash.digest('hex');
    });
  }

  /** The servers this caller may use on this endpoint, healthy ones only (as the dispatcher's lists have them). */
  private usableServers(catalog: PreparedCatalog, ctx: McpCallContext): CatalogServer[] {
    return [...this.access.view(catalog, ctx.principal, ctx.headers).servers.values()]
      .map((v) => v.server)
      .filter((s) => ctx.scope.kind === 'aggregate' || s.server_name === ctx.scope.serverName);
  }

  /** Where a URI goes, as resources/read routes it: the endpoint's server, or the one usable server claiming it. */
  private serverForUri(catalog: PreparedCatalog, ctx: McpCallContext, uri: string): CatalogServer | undefined {
    const servers = this.usableServers(catalog, ctx);
    if (ctx.scope.kind === 'server') return servers[0];
    const claimed = catalog.memoize('mcp-index', () => new McpIndex(catalog)).serversForUri(uri);
    const usable = servers.filter((s) => claimed.includes(s.server_id));
    return usable.length === 1 ? usable[0] : undefined;
  }

  /** Re-reads a listener's key and lists (one evaluation at a time per listener; a request meanwhile runs it again). */
  private refresh(listener: Listener): void {
    if (listener.closed) return;
    if (listener.refreshing) {
      listener.refreshAgain = true;
      return;
    }
    listener.refreshing = this.evaluate(listener)
      .catch((error: Error) => this.log.warn(`listen ${String(listener.id)}: ${error.message}`))
      .finally(() => {
        listener.refreshing = undefined;
        if (listener.refreshAgain) {
          listener.refreshAgain = false;
          this.refresh(listener);
        }
      });
  }

  /**
   * Tells the listener of each honoured list that changed as it sees it, and stops the resource updates of servers
   * it may no longer use. A key that is no longer valid ends the stream.
   */
  private async evaluate(listener: Listener): Promise<void> {
    if (!(await this.reauthenticate(listener))) return;
    for (const [list, before] of listener.lists) {
      const now = await this.fingerprint(list, listener.ctx);
      if (now === before || listener.closed) continue;
      listener.lists.set(list, now);
      this.send(listener, `notifications/${list}/list_changed`, {});
    }
    const usable = new Set(this.usableServers(await this.catalogs.current(), listener.ctx).map((s) => s.server_id));
    for (const [uri, { serverId, release }] of listener.resources) {
      if (usable.has(serverId)) continue;
      release();
      listener.resources.delete(uri);
    }
  }

  /** The listener's key read again (cached by PrincipalService); false (the stream ended) when it is no longer valid. */
  private async reauthenticate(listener: Listener): Promise<boolean> {
    try {
      listener.ctx.principal = await this.principals.authenticate(listener.ctx.headers);
      return !listener.closed;
    } catch (error) {
      if (!DomainError.is(error, 'UNAUTHENTICATED')) throw error;
      this.end(listener, errorJson(listener.id, -32001, error.message));
      return false;
    }
  }

  /** Keep-alive comments; a key that expired or was revoked while no event said so is noticed here. */
  private tick(): void {
    for (const listener of this.listeners) {
      if (!listener.res.writableEnded) listener.res.write(': keepalive\n\n');
      const before = listener.ctx.principal;
      void this.reauthenticate(listener)
        .then((valid) => valid && listener.ctx.principal !== before && this.refresh(listener))
        .catch((error: Error) => this.log.debug(`listen ${String(listener.id)}: ${error.message}`));
    }
  }

  /** One notification on the stream, stamped with the subscription id (held until the acknowledgement is out). */
  private send(listener: Listener, method: string, params: Record<string, unknown>): void {
    if (listener.closed) return;
    const meta = { ...(params._meta as Record<string, unknown> | undefined), [SUBSCRIPTION_ID_META_KEY]: listener.id };
    const json = notificationJson(method, { ...params, _meta: meta });
    if (listener.held) listener.held.push(json);
    else listener.res.write(frame(json));
  }

  /** Ends a stream with a last message (the listen result, or an error). */
  private end(listener: Listener, lastJson: string): void {
    if (!listener.closed && !listener.res.writableEnded && listener.res.headersSent) listener.res.end(frame(lastJson));
    this.forget(listener);
    listener.res.end();
  }

  /** Counts a stream against its key's cap, or refuses it (429, -32029) when the key holds as many as allowed. */
  private count(listener: Listener): void {
    const { principal } = listener.ctx;
    if (principal.kind === 'master' || !principal.token_hash) return;
    const open = this.openPerKey.get(principal.token_hash) ?? 0;
    if (open >= this.maxPerKey) {
      throw new DomainError('RATE_LIMITED', `this key holds ${open} ${LISTEN_METHOD} streams on this replica, the most it may (MAX_LISTEN_STREAMS_PER_KEY): close one first`, {
        retry_after_seconds: 5,
        limit: this.maxPerKey,
        level: 'key',
        limit_name: 'listen_streams',
      });
    }
    this.openPerKey.set(principal.token_hash, open + 1);
    listener.countedAs = principal.token_hash;
  }

  /** The stream is over: its watches are released, nothing more is written, its key may open another. */
  private forget(listener: Listener): void {
    if (listener.countedAs !== undefined) {
      const left = (this.openPerKey.get(listener.countedAs) ?? 1) - 1;
      if (left > 0) this.openPerKey.set(listener.countedAs, left);
      else this.openPerKey.delete(listener.countedAs);
      listener.countedAs = undefined;
    }
    listener.closed = true;
    this.listeners.delete(listener);
    for (const { release } of listener.resources.values()) release();
    listener.resources.clear();
  }
}

/** The graceful end of a subscription: the listen request's (empty) result. */
export function listenResultJson(id: JsonRpcId, serverInfo: Record<string, unknown>): string {
  return JSON.stringify({ jsonrpc: '2.0', id, result: { resultType: 'complete', _meta: { [SUBSCRIPTION_ID_META_KEY]: id, [SERVER_INFO_META_KEY]: serverInfo } } });
}

/** `params.notifications` checked: the filter, or what is wrong with it. */
export function parseFilter(value: unknown): SubscriptionFilter | string {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'Invalid params: params.notifications must be an object';
  const filter: SubscriptionFilter = {};
  for (const { filter: field } of Object.values(LISTS)) {
    const flag = (value as Record<string, unknown>)[field];
    if (flag === undefined) continue;
    if (typeof flag !== 'boolean') return `Invalid params: notifications.${field} must be a boolean`;
    filter[field] = flag;
  }
  const uris = (value as Record<string, unknown>).resourceSubscriptions;
  if (uris !== undefined) {
    if (!Array.isArray(uris) || !uris.every((u) => typeof u === 'string' && u.length > 0)) return 'Invalid params: notifications.resourceSubscriptions must be an array of URIs';
    if (uris.length > MAX_RESOURCE_SUBSCRIPTIONS) return `Invalid params: at most ${MAX_RESOURCE_SUBSCRIPTIONS} resourceSubscriptions per listen`;
    filter.resourceSubscriptions = [...new Set(uris as string[])];
  }
  return filter;
}

function shuttingDown(): ModernRejection {
  return new ModernRejection(503, JsonRpcErrorCode.INTERNAL_ERROR, 'this gateway replica is shutting down: listen on another');
}

function frame(json: string): string {
  return `event: message\ndata: ${json}\n\n`;
}
