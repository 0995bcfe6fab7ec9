import { Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { CacheKeys, CounterStore, KeyValueStore, MemoryCounterStore } from '#libs/cache';
import { DomainError } from '#libs/contracts';

/** A store command taking longer than this counts as a failure (Redis answers in well under a millisecond). */
const COMMAND_TIMEOUT_MS = 1_000;
/** While the store is unreachable: how often it is probed. */
const PROBE_MS = 250;
/** While it is reachable: how often the marker is read (a restart that lost the data is noticed so). */
const MARKER_CHECK_MS = 1_000;

/** What the edge answers when it needs the store and the store is unreachable: retryable, 503 with Retry-After. */
export function storeUnavailable(what: string): DomainError {
  return new DomainError('UPSTREAM_UNAVAILABLE', `${what}: the session store (Redis) is unreachable; retry shortly`, { retry_after_seconds: 1, store: 'unreachable' }, true);
}

class CommandTimeout extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CommandTimeout(`store command took over ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Whether the edge's store (Redis) is reachable, as this replica sees it (docs/architecture.md, "The edge with
 * Redis down"). A failed or slow command, or a failed check, marks it unreachable: commands then fail at once
 * (`run` throws) instead of queueing behind the client's reconnection, and a probe every PROBE_MS finds it back.
 * While reachable, a marker key this replica wrote is read every MARKER_CHECK_MS: finding it gone means the store
 * lost its data (restarted without persistence). Both a return and a loss call the `onRecovered` listeners (the
 * session store writes back what it holds). For memory stores (one process) it does nothing.
 */
export class StoreGuard implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(StoreGuard.name);
  private reachable = true;
  private readonly listeners = new Set<(lostData: boolean) => void>();
  private readonly marker = CacheKeys.storeMarker(randomBytes(6).toString('hex'));
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private stopped = false;

  constructor(
    private readonly store: KeyValueStore,
    /** False for memory stores: nothing to watch. */
    readonly enabled: boolean,
  ) {}

  onModuleInit(): void {
    if (!this.enabled) return;
    void this.store.set(this.marker.key, '1', this.marker.ttlSeconds).catch(() => this.markDown('the marker could not be written'));
    this.schedule(MARKER_CHECK_MS);
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  get up(): boolean {
    return this.reachable;
  }

  /** Called when the store answers again after being unreachable, or is found to have lost its data. */
  onRecovered(listener: (lostData: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs one store command: at once refused while the store is unreachable; a failure or timeout marks it so. */
  async run<T>(what: string, command: () => Promise<T>): Promise<T> {
    if (!this.enabled) return command();
    if (!this.reachable) throw storeUnavailable(what);
    try {
      return await withTimeout(command(), COMMAND_TIMEOUT_MS);
    } catch (error) {
      if (!(error instanceof CommandTimeout || isConnectionError(error))) {
        void this.check(); // something else went wrong: see whether the store still answers
        throw error;
      }
      this.markDown((error as Error).message);
      throw storeUnavailable(what);
    }
  }

  private markDown(why: string): void {
    if (!this.reachable) return;
    this.reachable = false;
    this.log.warn(`the store is unreachable (${why}): sessions are served from memory and rate limits counted in memory until it answers`);
    this.schedule(PROBE_MS);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.check(), ms);
    this.timer.unref();
  }

  /** One check: reachable? still holding the marker? */
  private async check(): Promise<void> {
    if (this.checking || this.stopped) return;
    this.checking = true;
    const wasUp = this.reachable;
    try {
      const marker = await withTimeout(this.store.get(this.marker.key), COMMAND_TIMEOUT_MS);
      const lost = marker === null;
      if (lost) await withTimeout(this.store.set(this.marker.key, '1', this.marker.ttlSeconds), COMMAND_TIMEOUT_MS);
      else void this.store.expire(this.marker.key, this.marker.ttlSeconds).catch(() => undefined);
      this.reachable = true;
      if (!wasUp || lost) {
        this.log.log(lost ? 'the store lost its data (restarted?): writing back what this replica holds' : 'the store answers again');
        for (const listener of this.listeners) {
          try {
            listener(lost);
          } catch (error) {
            this.log.warn(`store recovery listener failed: ${(error as Error).message}`);
          }
        }
      }
    } catch (error) {
      this.markDown((error as Error).message);
    } finally {
      this.checking = false;
      this.schedule(this.reachable ? MARKER_CHECK_MS : PROBE_MS);
    }
  }
}

/** ioredis's ways of saying the connection is not there. */
function isConnectionError(error: unknown): boolean {
  const e = error as { name?: string; message?: string; code?: string };
  return (
    e?.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|connect|LOADING/i.test(`${e?.message ?? ''} ${e?.code ?? ''}`)
  );
}

/** The edge's KeyValueStore: every command through the guard (fails at once while the store is unreachable). */
export class GuardedKeyValueStore extends KeyValueStore {
  constructor(
    private readonly inner: KeyValueStore,
    private readonly guard: StoreGuard,
  ) {
    super();
  }

  get(key: string) {
    return this.guard.run('store read', () => this.inner.get(key));
  }
  getMany(keys: readonly string[]) {
    return this.guard.run('store read', () => this.inner.getMany(keys));
  }
  set(key: string, value: string, ttlSeconds: number) {
    return this.guard.run('store write', () => this.inner.set(key, value, ttlSeconds));
  }
  expire(key: string, ttlSeconds: number) {
    return this.guard.run('store write', () => this.inner.expire(key, ttlSeconds));
  }
  delete(key: string) {
    return this.guard.run('store write', () => this.inner.delete(key));
  }
  setIfAbsent(key: string, value: string, ttlSeconds: number) {
    return this.guard.run('store write', () => this.inner.setIfAbsent(key, value, ttlSeconds));
  }
  deleteIfEquals(key: string, value: string) {
    return this.guard.run('store write', () => this.inner.deleteIfEquals(key, value));
  }
  take(key: string) {
    return this.guard.run('store write', () => this.inner.take(key));
  }
  ping() {
    return this.inner.ping();
  }
  close() {
    return this.inner.close();
  }
}

/**
 * The edge's rate counters: in the store (shared by every replica) while it is reachable, in this replica's memory
 * while it is not, so that limits still hold (per replica) and nothing waits for the store. A slot taken in
 * memory is given back in memory.
 */
export class FallbackCounterStore extends CounterStore {
  private readonly memory = new MemoryCounterStore();
  /** Slots taken in memory and not given back yet, by key. */
  private readonly heldInMemory = new Map<string, number>();

  constructor(
    private readonly inner: CounterStore,
    private readonly guard: StoreGuard,
  ) {
    super();
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    if (this.guard.enabled && this.guard.up) {
      try {
        return await this.guard.run('rate count', () => this.inner.increment(key, ttlSeconds));
      } catch {
        // counted in memory below
      }
    } else if (!this.guard.enabled) {
      return this.inner.increment(key, ttlSeconds);
    }
    return this.memory.increment(key, ttlSeconds);
  }

  async acquire(key: string, max: number, ttlSeconds: number): Promise<{ taken: boolean; inFlight: number }> {
    if (!this.guard.enabled) return this.inner.acquire(key, max, ttlSeconds);
    if (this.guard.up) {
      try {
        return await this.guard.run('parallel slot', () => this.inner.acquire(key, max, ttlSeconds));
      } catch {
        // taken in memory below
      }
    }
    const slot = await this.memory.acquire(key, max, ttlSeconds);
    if (slot.taken) this.heldInMemory.set(key, (this.heldInMemory.get(key) ?? 0) + 1);
    return slot;
  }

  async release(key: string, ttlSeconds: number): Promise<number> {
    if (!this.guard.enabled) return this.inner.release(key, ttlSeconds);
    const held = this.heldInMemory.get(key) ?? 0;
    if (held > 0) {
      if (held === 1) this.heldInMemory.delete(key);
      else this.heldInMemory.set(key, held - 1);
      return this.memory.release(key, ttlSeconds);
    }
    // a slot of the store: given back there (if it is away, its TTL frees the slot)
    return this.guard.run('parallel slot', () => this.inner.release(key, ttlSeconds)).catch(() => 0);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
