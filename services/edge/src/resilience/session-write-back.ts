import { Logger } from '@nestjs/common';
import { CacheKeys, type KeyValueStore } from '#libs/cache';

/** Sessions this replica used this recently are written back when the store returns (older ones are left to end). */
const WRITE_BACK_WINDOW_MS = 10 * 60_000;

/**
 * What a replica's session store owes the shared store after an outage (docs/architecture.md, "The edge with Redis
 * down"): sessions created or changed while it was unreachable (written over whatever it holds), sessions ended
 * meanwhile (deleted), and every other session the replica holds (written only where missing: what the store
 * kept wins), so that a store that restarted empty has its live sessions again.
 */
export class SessionWriteBack {
  private readonly log = new Logger('SessionStore');
  private readonly unsaved = new Set<string>();
  private readonly ended = new Set<string>();
  private running: Promise<void> | undefined;

  /** A session created or changed while the store was unreachable. */
  unsavedChange(id: string): void {
    this.ended.delete(id);
    this.unsaved.add(id);
  }

  /** A session ended while the store was unreachable. */
  unsavedEnd(id: string): void {
    this.unsaved.delete(id);
    this.ended.add(id);
  }

  /** Writes back (once at a time); `held` lists the sessions this replica holds with when it last used them. */
  flush(store: KeyValueStore, held: () => Iterable<{ id: string; json: string; usedAt: number }>, changed: (id: string) => void): Promise<void> {
    this.running ??= this.write(store, held, changed).finally(() => (this.running = undefined));
    return this.running;
  }

  private async write(store: KeyValueStore, held: () => Iterable<{ id: string; json: string; usedAt: number }>, changed: (id: string) => void): Promise<void> {
    let written = 0;
    let kept = 0;
    let deleted = 0;
    try {
      for (const id of [...this.ended]) {
        await store.delete(CacheKeys.session(id).key);
        this.ended.delete(id);
        deleted++;
      }
      const since = Date.now() - WRITE_BACK_WINDOW_MS;
      const writes: Promise<void>[] = [];
      for (const { id, json, usedAt } of held()) {
        const { key, ttlSeconds } = CacheKeys.session(id);
        if (this.unsaved.has(id)) {
          writes.push(
            store.set(key, json, ttlSeconds).then(
              () => {
                this.unsaved.delete(id);
                written++;
                changed(id); // other replicas drop the copy they kept during the outage
              },
              () => undefined,
            ),
          );
        } else if (usedAt >= since) {
          writes.push(store.setIfAbsent(key, json, ttlSeconds).then((wrote) => void (wrote ? written++ : kept++), () => undefined));
        }
      }
      await Promise.all(writes);
      this.log.log(`sessions written back to the store: ${written} written, ${kept} already there, ${deleted} ended`);
    } catch (error) {
      this.log.warn(`writing sessions back failed (retried when the store answers again): ${(error as Error).message}`);
    }
  }
}
