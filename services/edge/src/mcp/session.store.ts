import { Inject, Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Bus } from '#libs/bus';
import { CacheKeys, KeyValueStore } from '#libs/cache';
import { DomainError, SessionChanged, SessionEnded } from '#libs/contracts';
import { SessionWriteBack } from '../resilience/session-write-back.js';
import { StoreGuard } from '../resilience/store-guard.js';

/** A client's MCP session as every edge replica sees it. */
export interface McpSession {
  id: string;
  /** 'aggregate' for /mcp, or the server name for /mcp/{server}. */
  scope: string;
  protocolVersion: string;
  /** sha256 of the key that opened it (null for the master key): another key cannot use the session. */
  ownerHash: string | null;
  clientInfo: Record<string, unknown> | null;
  clientCapabilities: Record<string, unknown>;
  createdAt: number;
  /**
   * The client needs upstream sessions of its own (it subscribed to a resource or set a log level; declaring
   * sampling, elicitation or roots implies it without this flag).
   */
  dedicated?: boolean;
  /** server_id -> the connector instance holding this client's own upstream session on that server. */
  upstreams?: Record<string, string>;
  /**
   * Not a stored session: the context of one 2026-07-28 request, which has none. Its calls use the connectors'
   * pooled upstream sessions and nothing is recorded.
   */
  stateless?: true;
}

const LOCAL_TTL_MS = 60_000;
const MAX_LOCAL = 20_000;

/**
 * Sessions live in the shared KeyValueStore (Redis when distributed) so any replica serves any session; each
 * replica keeps the ones it has seen in memory (the hot path makes no store round trip) and forgets one
 * everywhere when a SessionEnded event arrives.
 */
@Injectable()
export class SessionStore implements OnModuleInit, OnModuleDestroy {
  private readonly local = new Map<string, { session: McpSession; until: number }>();
  private unsubscribe?: () => void;
  /** What the shared store missed while it was unreachable (docs/architecture.md, "The edge with Redis down"). */
  private readonly writeBack = new SessionWriteBack();

  constructor(
    @Inject(KeyValueStore) private readonly store: KeyValueStore,
    @Inject(Bus) private readonly bus: Bus,
    @Optional() @Inject(StoreGuard) private readonly guard?: StoreGuard,
  ) {}

  onModuleInit(): void {
    const forget = ({ session_id }: { session_id: string }) => void this.local.delete(session_id);
    const stops = [this.bus.subscribe(SessionEnded, forget), this.bus.subscribe(SessionChanged, forget)];
    this.unsubscribe = () => stops.forEach((stop) => stop());
    this.bus.onReconnect(() => this.local.clear());
    const stopWatching = this.guard?.onRecovered(
      () =>
        void this.writeBack.flush(
          this.store,
          () => [...this.local].map(([id, { session, until }]) => ({ id, json: JSON.stringify(session), usedAt: until - LOCAL_TTL_MS })),
          (id) => this.bus.publish(SessionChanged, { session_id: id }),
        ),
    );
    if (stopWatching) stops.push(stopWatching);
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  async create(fields: Omit<McpSession, 'id' | 'createdAt'>): Promise<McpSession> {
    const session: McpSession = { id: randomUUID(), createdAt: Date.now(), ...fields };
    const { key, ttlSeconds } = CacheKeys.session(session.id);
    // with the store unreachable the session lives in this replica's memory until it can be written
    await this.store.set(key, JSON.stringify(session), ttlSeconds).catch((error: unknown) => (storeDown(error) ? this.writeBack.unsavedChange(session.id) : Promise.reject(error)));
    this.remember(session);
    return session;
  }

  async get(id: string): Promise<McpSession | undefined> {
    const now = Date.now();
    const hit = this.local.get(id);
    if (hit && hit.until > now) return hit.session;
    const { key, ttlSeconds } = CacheKeys.session(id);
    let raw: string | null;
    try {
      raw = await this.store.get(key);
    } catch (error) {
      if (hit && storeDown(error)) return hit.session; // the store is unreachable: the copy held here serves meanwhile
      throw error; // 503 with Retry-After: another replica may hold it, and "not found" is said only by the store
    }
    if (!raw) {
      this.local.delete(id);
      return undefined;
    }
    void this.store.expire(key, ttlSeconds).catch(() => undefined); // sliding expiry, refreshed at most once a minute per replica
    const session = JSON.parse(raw) as McpSession;
    this.remember(session);
    return session;
  }

  /** The legacy transport learns the client's info and capabilities only from its initialize message. */
  async setClient(session: McpSession, clientInfo: Record<string, unknown> | null, clientCapabilities: Record<string, unknown>): Promise<void> {
    await this.update(session, { clientInfo, clientCapabilities });
  }

  /** Marks the session as needing upstream sessions of its own (once; later calls change nothing). */
  async markDedicated(session: McpSession): Promise<void> {
    if (session.dedicated) return;
    await this.update(session, { dedicated: true });
  }

  /** Records the connector instance that holds the client's own upstream session on a server. */
  async recordUpstream(session: McpSession, serverId: string, instance: string): Promise<void> {
    if (session.upstreams?.[serverId] === instance) return;
    await this.update(session, { upstreams: { ...session.upstreams, [serverId]: instance } });
  }

  /**
   * Writes changed fields (re-reading the stored session first, so that two replicas' changes to different fields
   * both survive) and tells every replica to drop its cached copy. Not on the hot path: a session changes a
   * handful of times in its life.
   */
  private async update(session: McpSession, fields: Partial<McpSession>): Promise<void> {
    const { key, ttlSeconds } = CacheKeys.session(session.id);
    const raw = await this.store.get(key).catch((error: unknown) => (storeDown(error) ? null : Promise.reject(error)));
    const stored = raw ? (JSON.parse(raw) as McpSession) : session;
    const next: McpSession = { ...stored, ...fields, ...(fields.upstreams ? { upstreams: { ...stored.upstreams, ...fields.upstreams } } : {}) };
    const saved = await this.store.set(key, JSON.stringify(next), ttlSeconds).then(
      () => true,
      (error: unknown) => (storeDown(error) ? (this.writeBack.unsavedChange(session.id), false) : Promise.reject(error)),
    );
    Object.assign(session, next);
    this.remember(next);
    // other replicas drop their copy and read the store again; while it is away they keep theirs (told once written)
    if (saved) this.bus.publish(SessionChanged, { session_id: session.id });
  }

  async end(id: string): Promise<boolean> {
    const removed = await this.store.delete(CacheKeys.session(id).key).catch((error: unknown) => {
      if (!storeDown(error)) return Promise.reject(error);
      this.writeBack.unsavedEnd(id);
      return this.local.has(id);
    });
    this.local.delete(id);
    this.bus.publish(SessionEnded, { session_id: id });
    return removed;
  }

  private remember(session: McpSession): void {
    if (this.local.size >= MAX_LOCAL) this.local.delete(this.local.keys().next().value!);
    this.local.set(session.id, { session, until: Date.now() + LOCAL_TTL_MS });
  }
}

/** The store guard's refusal: the store is unreachable (not a missing session). */
function storeDown(error: unknown): boolean {
  return error instanceof DomainError && error.details?.store === 'unreachable';
}
