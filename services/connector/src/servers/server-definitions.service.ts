import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { DomainError, ResolveServer, ServersChanged, type McpServerRuntime } from '#libs/contracts';

/** How long a resolved definition is trusted without an event (events are the real invalidation). */
const DEFINITION_TTL_MS = 5 * 60_000;
/** The longest a registry lookup may take, whatever the caller's budget. */
const RESOLVE_TIMEOUT_MS = 5_000;

interface CachedDefinition {
  server: McpServerRuntime;
  expiresAt: number;
}

export type ServerChangeListener = (serverId: string, serverName: string) => void;

/**
 * Every server definition this replica has needed, learned from the registry's ResolveServer (secrets
 * decrypted) and kept in memory until a ServersChanged event (or the TTL) drops it.
 */
@Injectable()
export class ServerDefinitionsService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(ServerDefinitionsService.name);
  private readonly cache = new Map<string, CachedDefinition>();
  private readonly pending = new Map<string, Promise<McpServerRuntime>>();
  private readonly listeners = new Set<ServerChangeListener>();
  /** Bumped by every change event, so a lookup that raced with a change of its server is not cached. */
  private generation = 0;
  /** The generation of each server's last change, by id and by name. */
  private readonly changedAt = new Map<string, number>();
  private unsubscribe: (() => void) | undefined;

  constructor(@Inject(Bus) private readonly bus: Bus) {}

  onModuleInit(): void {
    this.unsubscribe = this.bus.subscribe(ServersChanged, (event) => this.forget(event.server_id, event.server_name, event.change));
    // ServersChanged events may have been missed while disconnected: re-resolve every server on next use (the pool
    // reconnects only those whose revision changed). What was known stays for when the registry cannot answer.
    this.bus.onReconnect(() => {
      for (const entry of this.cache.values()) if (Number.isFinite(entry.expiresAt)) entry.expiresAt = 0;
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  /** Called with (server_id, server_name) whenever a definition changes or is deleted. */
  onChange(listener: ServerChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async get(serverRef: string, deadline = Infinity): Promise<McpServerRuntime> {
    const cached = this.cache.get(serverRef);
    if (cached && cached.expiresAt > Date.now()) return cached.server;
    let lookup = this.pending.get(serverRef);
    if (!lookup) {
      lookup = this.resolve(serverRef, deadline).finally(() => this.pending.delete(serverRef));
      this.pending.set(serverRef, lookup);
    }
    if (!cached) return lookup;
    // a definition known before (no change event since) serves while the registry or its database cannot answer
    return lookup.catch((error: unknown) => {
      const unanswered = error instanceof DomainError && (error.retryable || error.code === 'BUS_TIMEOUT' || error.code === 'UPSTREAM_UNAVAILABLE');
      if (!unanswered || this.cache.get(serverRef) !== cached) throw error;
      return cached.server;
    });
  }

  /**
   * Makes an inline definition (an unsaved server being tested, id `probe-…`) resolvable until the returned function
   * is called, which drops it and tells the pool (by its id only: a stored server of the same name keeps its sessions).
   */
  hold(server: McpServerRuntime): () => void {
    this.cache.set(server.server_id, { server, expiresAt: Infinity });
    return () => {
      this.cache.delete(server.server_id);
      for (const listener of this.listeners) listener(server.server_id, server.server_id);
    };
  }

  /** Drops everything known about a server (by id or name) and tells the pool. */
  forget(serverId: string, serverName: string, change: 'created' | 'updated' | 'deleted' = 'updated'): void {
    this.generation++;
    this.changedAt.set(serverId, this.generation);
    this.changedAt.set(serverName, this.generation);
    for (const [key, entry] of this.cache) {
      if (key === serverId || key === serverName || entry.server.server_id === serverId) this.cache.delete(key);
    }
    this.pending.delete(serverId);
    this.pending.delete(serverName);
    // in words a user knows: what happens next for this server
    if (change === 'created') this.log.debug?.(`server ${serverName} was added: connecting on its first call`);
    else if (change === 'deleted') this.log.log(`server ${serverName} was deleted: closing its upstream sessions`);
    else this.log.log(`server ${serverName} was changed: its next call uses the new definition`);
    for (const listener of this.listeners) listener(serverId, serverName);
  }

  private async resolve(serverRef: string, deadline: number): Promise<McpServerRuntime> {
    const generation = this.generation;
    const timeoutMs = Math.max(1, Math.min(RESOLVE_TIMEOUT_MS, deadline - Date.now()));
    const server = await this.bus.call(ResolveServer, { server_id: serverRef }, { timeoutMs, ...(Number.isFinite(deadline) ? { deadline } : {}) });
    // another server's change says nothing about this one (a burst of changes must not make every lookup miss)
    const changed = Math.max(...[serverRef, server.server_id, server.server_name].map((key) => this.changedAt.get(key) ?? 0));
    if (changed <= generation) this.cache.set(serverRef, { server, expiresAt: Date.now() + DEFINITION_TTL_MS });
    return server;
  }
}
