import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { CatalogChanged, GetCatalog, type Catalog, type CatalogServer, type UpstreamTool } from '#libs/contracts';

export interface ToolRoute {
  server: CatalogServer;
  tool: UpstreamTool;
}

/** The catalog with the lookups the hot path needs, built once per version. */
export class PreparedCatalog {
  readonly byName = new Map<string, CatalogServer>();
  readonly byId = new Map<string, CatalogServer>();
  /** Aggregate name (`{server}-{tool}`, made unique) → where it goes. */
  readonly aggregateRoutes = new Map<string, ToolRoute>();
  /** server_id → upstream tool name → aggregate name. */
  readonly aggregateNames = new Map<string, Map<string, string>>();
  private readonly memo = new Map<string, unknown>();

  constructor(readonly catalog: Catalog) {
    for (const server of catalog.servers) {
      this.byName.set(server.server_name, server);
      this.byId.set(server.server_id, server);
    }
    for (const entry of catalog.aggregate_names) {
      const server = this.byId.get(entry.server_id);
      const tool = server?.tools.find((t) => t.name === entry.tool) ?? capabilityTool(server, entry.tool);
      if (!server || !tool) continue;
      this.aggregateRoutes.set(entry.name, { server, tool });
      let names = this.aggregateNames.get(server.server_id);
      if (!names) this.aggregateNames.set(server.server_id, (names = new Map()));
      names.set(tool.name, entry.name);
    }
  }

  get version(): string {
    return this.catalog.version;
  }

  server(idOrName: string): CatalogServer | undefined {
    return this.byName.get(idOrName) ?? this.byId.get(idOrName);
  }

  /** Caches a value derived from this version (prepared tool lists per permission set). */
  memoize<T>(key: string, build: () => T): T {
    if (this.memo.has(key)) return this.memo.get(key) as T;
    const value = build();
    if (this.memo.size > 1000) this.memo.clear();
    this.memo.set(key, value);
    return value;
  }
}

/** A tool the server lists only to clients declaring a capability (sampling, elicitation, roots). */
function capabilityTool(server: CatalogServer | undefined, name: string): UpstreamTool | undefined {
  for (const tools of Object.values(server?.capability_tools ?? {})) {
    const tool = tools.find((t) => t.name === name);
    if (tool) return tool;
  }
  return undefined;
}

const REFRESH_INTERVAL_MS = 30_000;

/**
 * The edge's copy of the registry's catalog. Fetched once and kept in memory; a CatalogChanged event swaps in the
 * new version (the one it carries, or fetched when it carries none) and tells listeners; a periodic refresh covers
 * a missed event.
 */
@Injectable()
export class CatalogService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(CatalogService.name);
  private prepared?: PreparedCatalog;
  private inflight?: Promise<PreparedCatalog>;
  /** Catalogs taken from events so far: a fetch in flight when one came is not swapped in after it. */
  private adopted = 0;
  /** A version announced while a fetch was in flight (which may have read the catalog before it was saved). */
  private announced: string | undefined;
  private readonly listeners = new Set<(catalog: PreparedCatalog) => void>();
  private unsubscribe?: () => void;
  private timer?: NodeJS.Timeout;

  constructor(@Inject(Bus) private readonly bus: Bus) {}

  onModuleInit(): void {
    this.unsubscribe = this.bus.subscribe(CatalogChanged, ({ version, catalog }) => {
      if (version === this.prepared?.version) return;
      // the event carries the catalog when it fits: taken as it is, no GetCatalog (a fetch in flight is then ignored)
      if (catalog?.version === version) return this.adopt(catalog);
      if (this.inflight) this.announced = version;
      else void this.refresh().catch(() => undefined);
    });
    this.bus.onReconnect(() => void this.refresh().catch(() => undefined));
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), REFRESH_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
    clearInterval(this.timer);
  }

  /** The current catalog; the first call (or one after a failure) fetches it. */
  async current(): Promise<PreparedCatalog> {
    return this.prepared ?? this.refresh();
  }

  /** A catalog that came with its CatalogChanged event. */
  private adopt(catalog: Catalog): void {
    this.adopted++;
    this.announced = undefined;
    this.swap(catalog);
  }

  /** Makes `catalog` the current one and tells the listeners (not on the first). */
  private swap(catalog: Catalog): PreparedCatalog {
    const previous = this.prepared;
    if (previous?.version === catalog.version) return previous;
    const next = new PreparedCatalog(catalog);
    this.prepared = next;
    if (previous) {
      this.log.log(`catalog ${previous.version} -> ${next.version}`);
      for (const listener of this.listeners) listener(next);
    }
    return next;
  }

  onChange(listener: (catalog: PreparedCatalog) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  refresh(): Promise<PreparedCatalog> {
    const adopted = this.adopted;
    this.inflight ??= this.bus
      .call(GetCatalog, {}, { timeoutMs: 15_000 })
      .then((catalog) => {
        // a catalog that came with an event meanwhile is at least as new as what this fetch read
        if (this.adopted !== adopted && this.prepared) return this.prepared;
        return this.swap(catalog);
      })
      .finally(() => {
        this.inflight = undefined;
        const announced = this.announced;
        this.announced = undefined;
        if (announced !== undefined && announced !== this.prepared?.version) void this.refresh().catch(() => undefined);
      });
    return this.inflight;
  }
}
