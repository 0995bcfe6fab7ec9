import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Bus, isNoResponders } from '#libs/bus';
import {
  CatalogChanged,
  ConnectorStarted,
  DomainError,
  FetchServerCatalog,
  ServersChanged,
  UpstreamListChanged,
  type Catalog,
  type ServerHealth,
} from '#libs/contracts';
import { DEFAULT_HEALTHY_REFRESH_MS, DEFAULT_MAX_FETCH_MS, DEFAULT_RETRY_INITIAL_MS, DEFAULT_UNHEALTHY_REFRESH_MS, type RegistryOptions } from '../options.js';
import { ServerRepository } from '../servers/server.repository.js';
import type { ServerRecord } from '../servers/server-definition.js';
import { REGISTRY_OPTIONS } from '../tokens.js';
import { assembleCatalog, changedServerIds } from './catalog-assembly.js';
import { CatalogRepository, type SavedFetch, type ServerFetch } from './catalog.repository.js';
import { FetchRetries } from './fetch-retries.js';

/** The soonest a server's lists are fetched again, whatever ttl its upstream gives them. */
export const MIN_LIST_REFRESH_MS = 1_000;
/** Room in a CatalogChanged event for what goes beside the catalog (version, envelope). */
const EVENT_ROOM_BYTES = 1_024;
/** A build asks this many times at most for a server that keeps changing while it is fetched, then takes the last answer. */
const MAX_FETCHES_PER_BUILD = 3;

/** A listing of the servers is reused by builds while no server changed since it started, this long at most. */
const LISTING_REUSE_MS = 5_000;

/** One listing of the servers from the database: `started` orders it against the changes (as a Flight's). */
interface Listing {
  started: number;
  at: number;
  servers: Promise<ServerRecord[]>;
}

/** One server's fetch through a connector: `started` orders it against the server's changes (Infinity until it starts). */
interface Flight {
  started: number;
  fetch: Promise<ServerFetch>;
  /** The fetch that follows when the server changed while this one ran. */
  next?: Flight;
}

/**
 * The tool catalog: each server's tools fetched through a connector (in parallel, each with its own deadline),
 * cached per server in Redis, assembled into one versioned catalog. Change events from any replica and
 * upstream list_changed drop the server's entry and start its fetch at once, whatever build is running (the next
 * build takes it up); one fetch per server at a time, and one that started before its server's last change is
 * neither cached nor assembled (the fetch after the change is). A periodic pass re-checks healthy servers (every 30 s). A server
 * left out (no connector answering, upstream down) is fetched again with backoff (0.5 s doubling to 30 s, with
 * jitter), and at once when a connector starts (ConnectorStarted). A server whose upstream says its lists stay
 * good for less than that (2026-07-28 cache hints) is fetched again when its shortest list ttl ends, alone and
 * never more often than once a second. CatalogChanged is published only when the version changes. The catalog is
 * ready (the ping's `catalog` check) once every server has been fetched.
 */
@Injectable()
export class CatalogService implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(CatalogService.name);
  private readonly healthyRefreshMs: number;
  private readonly unhealthyRefreshMs: number;
  private readonly maxFetchMs: number;
  private current: Promise<Catalog> | undefined;
  private next: Promise<Catalog> | undefined;
  /** Orders fetches and changes: a fetch is out of date when its server changed after it started. */
  private seq = 0;
  /** When (in `seq`) each server was last invalidated here. */
  private readonly changedAt = new Map<string, number>();
  /** The fetch in flight per server. */
  private readonly flights = new Map<string, Flight>();
  /** The catalog this replica saved last. */
  private saved: Catalog | undefined;
  /** Each server's fetch as this replica stored it last (a build takes it instead of parsing the stored text). */
  private readonly savedFetches = new Map<string, SavedFetch>();
  /** The last listing of the servers started, and when (in `seq`) a server last changed. */
  private listing: Listing | undefined;
  private lastChange = 0;
  /** The servers the last build listed, by id. */
  private records = new Map<string, ServerRecord>();
  private lastVersion: string | undefined;
  private unsubscribe: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires: a build that finds a list expiring sooner brings it forward. */
  private timerDue = Infinity;
  private stopped = false;
  /** Set once every module is initialised (the config's servers seeded): change events rebuild from then on. */
  private bootstrapped = false;
  private readonly retries: FetchRetries;

  constructor(
    @Inject(ServerRepository) private readonly servers: ServerRepository,
    @Inject(CatalogRepository) private readonly cache: CatalogRepository,
    @Inject(Bus) private readonly bus: Bus,
    @Inject(REGISTRY_OPTIONS) options: RegistryOptions,
  ) {
    this.healthyRefreshMs = options.healthyRefreshMs ?? DEFAULT_HEALTHY_REFRESH_MS;
    this.unhealthyRefreshMs = options.unhealthyRefreshMs ?? DEFAULT_UNHEALTHY_REFRESH_MS;
    this.maxFetchMs = options.maxFetchMs ?? DEFAULT_MAX_FETCH_MS;
    const retryInitialMs = options.retryInitialMs ?? DEFAULT_RETRY_INITIAL_MS;
    this.retries = new FetchRetries({ initialMs: retryInitialMs, maxMs: Math.max(this.unhealthyRefreshMs, 1) }, () =>
      void this.rebuild().catch((error) => this.log.warn(`catalog retry failed: ${(error as Error).message}`)),
    );
  }

  onModuleInit(): void {
    this.unsubscribe.push(
      this.bus.subscribe(ServersChanged, (event) => this.onChange(event.server_id, `server ${event.change}`, event.change !== 'deleted')),
      this.bus.subscribe(UpstreamListChanged, (event) => this.onChange(event.server_id, `${event.list}/list_changed`)),
      this.bus.subscribe(ConnectorStarted, () => this.onConnectorStarted()),
    );
    // change events may have been missed while disconnected: the next build lists the servers again
    this.bus.onReconnect(() => (this.listing = undefined));
  }

  /** A connector joined: the servers left out are fetched now instead of at their next retry. */
  private onConnectorStarted(): void {
    const due = this.retries.retryAllNow();
    if (due === 0) return;
    this.log.log(`a connector started: fetching the ${due} server(s) left out of the catalog`);
    void this.rebuild().catch((error) => this.log.warn(`catalog rebuild after a connector started failed: ${(error as Error).message}`));
  }

  /** True once every server has been fetched: answered, or failed on its own account (not for want of a connector). */
  isReady(): boolean {
    return this.retries.isReady();
  }

  private async onChange(serverId: string, why: string, fetch = true): Promise<void> {
    try {
      // Before bootstrap (the seeder announcing the config's servers one by one) a build would see half of them
      // and could call the catalog ready: only forget the entry here, the first build fetches every server.
      if (this.bootstrapped) await this.invalidate([serverId], { fetch });
      else await this.forget([serverId]);
    } catch (error) {
      this.log.warn(`catalog rebuild after ${why} (${serverId}) failed: ${(error as Error).message}`);
    }
  }

  onApplicationBootstrap(): void {
    this.bootstrapped = true;
    // On the next turn: Nest runs this hook just before the registry serves, and connectors resolve servers through it.
    setImmediate(() => void this.rebuild().catch((error) => this.log.warn(`initial catalog build failed: ${(error as Error).message}`)));
    this.scheduleAt(Date.now() + this.period());
  }

  onModuleDestroy(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.retries.stop();
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /** The cached catalog, or one built now (concurrent callers share the build). */
  async getCatalog(): Promise<Catalog> {
    const cached = await this.cache.getCatalog(this.saved);
    if (cached) return cached;
    return this.current ?? this.startBuild();
  }

  /**
   * Forgets the servers' cached tools, starts fetching them now and rebuilds; resolves with a catalog built after
   * this call. The fetches do not wait for a build in progress: the build after it finds them done or joins them.
   */
  async invalidate(serverIds: readonly string[], { fetch = true }: { fetch?: boolean } = {}): Promise<Catalog> {
    await this.forget(serverIds);
    if (fetch) this.fetchNow(serverIds);
    return this.rebuild();
  }

  /** Drops the servers' cached tools: the next build fetches them. */
  private async forget(serverIds: readonly string[]): Promise<void> {
    for (const id of serverIds) {
      this.changedAt.set(id, ++this.seq);
      this.lastChange = this.seq;
      this.savedFetches.delete(id);
    }
    // the servers are listed again now, while their fetches run, not by the build that waits for them
    if (this.bootstrapped) this.serverList().catch(() => undefined);
    for (const id of serverIds) await this.cache.dropFetch(id);
  }

  /**
   * The servers as the database has them after the last change seen here: a listing started since then (in flight
   * or done, and recent) is shared, else a new one starts. A burst of changes lists them while their fetches run, so
   * the build after the last fetch finds the list done.
   */
  private serverList(): Promise<ServerRecord[]> {
    const listing = this.listing;
    if (listing && listing.started > this.lastChange && Date.now() - listing.at < LISTING_REUSE_MS) return listing.servers;
    const next: Listing = { started: ++this.seq, at: Date.now(), servers: this.servers.list() };
    this.listing = next;
    next.servers.catch(() => {
      if (this.listing === next) this.listing = undefined;
    });
    return next.servers;
  }

  /**
   * Starts the servers' fetches. A server the last build listed needs no lookup: its fetch waits as long as any
   * (the connector holds it to the server's own timeout, from the definition as it is now); a new one is looked up
   * (one deleted meanwhile has none).
   */
  private fetchNow(serverIds: readonly string[]): void {
    for (const id of serverIds) {
      const known = this.records.get(id);
      const lookup = known ? Promise.resolve({ ...known, timeout: null }) : Promise.resolve().then(() => this.servers.findByRef(id));
      // the fetch is chained, not left floating: storing its result fails once the stores have closed (shutdown)
      void lookup
        .then((server) => (server && !this.stopped ? this.fetchCurrent(server, undefined) : undefined))
        .catch((error: unknown) => this.log.debug(`server ${id} not fetched ahead of the build: ${(error as Error).message}`));
    }
  }

  /** A build that starts after this call: joins the queued one when a build is already running. */
  rebuild(): Promise<Catalog> {
    if (!this.current) return this.startBuild();
    this.next ??= this.current
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.startBuild();
      });
    return this.next;
  }

  async health(server?: string): Promise<{ servers: ServerHealth[] }> {
    let servers = await this.servers.list();
    if (server) {
      servers = servers.filter((s) => s.id === server || s.server_name === server);
      if (servers.length === 0) throw new DomainError('NOT_FOUND', `MCP server "${server}" does not exist`, { server });
    }
    const fetches = await this.cache.getFetches(servers.map((s) => s.id));
    return {
      servers: servers.map((s) => {
        const fetch = fetches.get(s.id);
        return {
          server_id: s.id,
          server_name: s.server_name,
          status: fetch?.status ?? 'unknown',
          error: fetch?.error ?? null,
          tool_count: fetch?.tools.length ?? 0,
          last_checked: fetch?.checked_at ?? null,
          protocol_version: fetch?.protocol_version ?? null,
        };
      }),
    };
  }

  private startBuild(): Promise<Catalog> {
    this.current = this.build().finally(() => {
      this.current = undefined;
    });
    return this.current;
  }

  private async build(): Promise<Catalog> {
    const servers = await this.serverList();
    this.records = new Map(servers.map((s) => [s.id, s]));
    this.retries.keepOnly(new Set(servers.map((s) => s.id)));
    for (const id of this.savedFetches.keys()) if (!this.records.has(id)) this.savedFetches.delete(id);
    const cached = await this.cache.getFetches(servers.map((s) => s.id), this.savedFetches);
    const now = Date.now();
    const fetches = new Map<string, ServerFetch>();
    await Promise.all(
      servers.map(async (server) => {
        const entry = cached.get(server.id);
        if (entry && !this.retries.takeDue(server.id) && !this.isStale(server.id, entry, now)) {
          if (entry.status === 'healthy') this.retries.markAnswered(server.id);
          fetches.set(server.id, entry);
          return;
        }
        fetches.set(server.id, await this.fetchCurrent(server, entry));
      }),
    );
    const catalog = assembleCatalog(servers, fetches);
    this.scheduleAt(this.nextListExpiry(fetches));
    const wasReady = this.retries.isReady();
    if (this.retries.noteBuilt(servers.map((s) => s.id)) && !wasReady) this.log.log(`catalog ready: every one of ${servers.length} server(s) fetched`);
    const previous = await this.cache.getCatalog(this.saved);
    const text = await this.cache.saveCatalog(catalog);
    this.saved = catalog;
    const before = previous?.version ?? this.lastVersion;
    this.lastVersion = catalog.version;
    if (catalog.version !== before) {
      const serverIds = changedServerIds(previous, catalog);
      // the catalog goes with the event when it fits (edges then need no GetCatalog); else edges ask for it
      const fits = Buffer.byteLength(text) + EVENT_ROOM_BYTES + 64 * serverIds.length <= this.bus.maxEventBytes;
      this.bus.publish(CatalogChanged, { version: catalog.version, server_ids: serverIds, ...(fits ? { catalog } : {}) });
      this.log.log(`catalog ${catalog.version}: ${catalog.aggregate_names.length} tools; changed servers [${serverIds.join(', ')}]`);
    }
    return catalog;
  }

  /**
   * A healthy entry is re-checked after healthyRefreshMs, or sooner when its upstream's list hints say so; a failed
   * one when its retry is due (now, if none is scheduled here).
   */
  private isStale(serverId: string, entry: ServerFetch, now: number): boolean {
    if (entry.status !== 'healthy') return !this.retries.isWaiting(serverId);
    return now - Date.parse(entry.checked_at) >= this.refreshMsOf(entry);
  }

  /** How long a healthy entry stays good: the refresh interval, or its lists' shortest ttl (at least a second). */
  private refreshMsOf(entry: ServerFetch): number {
    const listTtls = Object.entries(entry.cache_hints ?? {})
      .filter(([method]) => method.endsWith('/list'))
      .map(([, hint]) => hint.ttl_ms);
    if (listTtls.length === 0) return this.healthyRefreshMs;
    return Math.min(this.healthyRefreshMs, Math.max(MIN_LIST_REFRESH_MS, Math.min(...listTtls)));
  }

  /**
   * The server's fetch that started after its last change: the one in flight, or a new one. A fetch the server's
   * change overtook is not used: the build waits for the next (a few times at most, for a server that keeps changing).
   */
  private async fetchCurrent(server: ServerRecord, previous: ServerFetch | undefined): Promise<ServerFetch> {
    for (let attempt = 1; ; attempt++) {
      const flight = this.flightFor(server, previous);
      const fetch = await flight.fetch;
      if (this.isCurrent(server.id, flight) || attempt >= MAX_FETCHES_PER_BUILD) return fetch;
    }
  }

  /** The fetch a build of the server joins: the one in flight if it is current, else the one after it (started when it ends). */
  private flightFor(server: ServerRecord, previous: ServerFetch | undefined): Flight {
    const running = this.flights.get(server.id);
    if (!running) return this.startFlight(server, previous);
    if (this.isCurrent(server.id, running)) return running;
    return (running.next ??= this.startFlight(server, previous, running.fetch));
  }

  private startFlight(server: ServerRecord, previous: ServerFetch | undefined, after?: Promise<unknown>): Flight {
    const flight: Flight = { started: Infinity, fetch: undefined as unknown as Promise<ServerFetch> };
    const begin = () => {
      flight.started = ++this.seq;
      this.flights.set(server.id, flight);
    };
    if (!after) begin();
    flight.fetch = (async () => {
      if (after) {
        await after.catch(() => undefined);
        begin();
      }
      try {
        return await this.fetchServer(server, previous, flight);
      } finally {
        // the fetch after this one (if any) takes its place when it starts
        if (this.flights.get(server.id) === flight && !flight.next) this.flights.delete(server.id);
      }
    })();
    return flight;
  }

  /** True when the server has not changed since the fetch started (or it has yet to start). */
  private isCurrent(serverId: string, flight: Flight): boolean {
    return flight.started > (this.changedAt.get(serverId) ?? 0);
  }

  /**
   * Asks a connector for one server's tools; a failure makes an unhealthy entry, never an exception. Only a fetch
   * still current when it ends is cached and counts for the server's retries.
   */
  private async fetchServer(server: ServerRecord, previous: ServerFetch | undefined, flight: Flight): Promise<ServerFetch> {
    const timeoutMs = Math.min(server.timeout !== null ? server.timeout * 1000 : this.maxFetchMs, this.maxFetchMs);
    let fetch: ServerFetch;
    try {
      const reply = await this.bus.call(FetchServerCatalog, { server_id: server.id }, { timeoutMs });
      const { server_info: _info, ...lists } = reply;
      fetch = { status: 'healthy', error: null, checked_at: new Date().toISOString(), ...lists };
      if (!this.isCurrent(server.id, flight)) return fetch;
      if (previous?.status === 'unhealthy') this.log.log(`MCP server ${server.server_name} is back: ${reply.tools.length} tools`);
      this.retries.record(server.id, 'answered');
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      fetch = { status: 'unhealthy', error: message, checked_at: new Date().toISOString(), tools: [], protocol_version: null };
      if (!this.isCurrent(server.id, flight)) return fetch;
      const wait = this.retries.record(server.id, isNoResponders(error) ? 'unanswered' : 'failed');
      if (this.retries.attempts(server.id) === 1) {
        this.log.warn(`MCP server ${server.server_name} left out of the catalog: ${message} (fetched again in ${wait} ms, or when a connector starts)`);
      }
    }
    const saved = await this.cache.saveFetch(server.id, fetch);
    // kept unless the server changed while it was being stored
    if (this.isCurrent(server.id, flight)) this.savedFetches.set(server.id, saved);
    return fetch;
  }

  /** The periodic pass: every healthy and failed server is looked at this often. */
  private period(): number {
    return Math.min(this.healthyRefreshMs, this.unhealthyRefreshMs);
  }

  /** When the first healthy entry whose lists expire before the periodic pass is due again (Infinity if none). */
  private nextListExpiry(fetches: ReadonlyMap<string, ServerFetch>): number {
    let due = Infinity;
    for (const entry of fetches.values()) {
      if (entry.status !== 'healthy') continue;
      const refreshMs = this.refreshMsOf(entry);
      if (refreshMs < this.healthyRefreshMs) due = Math.min(due, Date.parse(entry.checked_at) + refreshMs);
    }
    return due;
  }

  /**
   * One timer for the next pass: the periodic one, brought forward when a list expires sooner. A pass rebuilds
   * from the cache and fetches only what is stale, so a short-lived server's lists are fetched without the others.
   */
  private scheduleAt(due: number): void {
    if (this.stopped || !this.bootstrapped || due === Infinity || (this.timer && due >= this.timerDue)) return;
    clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      this.rebuild()
        .catch((error) => this.log.warn(`catalog refresh failed: ${(error as Error).message}`))
        .finally(() => this.scheduleAt(Date.now() + this.period()));
    }, Math.max(0, due - Date.now()));
    this.timer.unref();
  }
}
