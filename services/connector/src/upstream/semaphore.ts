import { DomainError } from '#libs/contracts';

interface Waiter {
  grant: (release: () => void) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * A per-server limit on concurrent upstream calls in this replica (`max_concurrent_requests`). Waiters queue in
 * arrival order and give up with UPSTREAM_TIMEOUT when their deadline passes before a slot frees.
 */
export class Semaphore {
  private active = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`semaphore limit must be a positive integer, got ${limit}`);
  }

  get inUse(): number {
    return this.active;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves with a release function once a slot is free; rejects when `deadline` (epoch ms) passes first. */
  acquire(deadline = Infinity): Promise<() => void> {
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    const wait = deadline - Date.now();
    if (wait <= 0) return Promise.reject(waitTimeout(this.limit));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { grant: resolve, timer: undefined };
      if (Number.isFinite(wait)) {
        waiter.timer = setTimeout(() => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          reject(waitTimeout(this.limit));
        }, wait);
      }
      this.waiters.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) {
        if (next.timer) clearTimeout(next.timer);
        next.grant(this.releaser()); // the slot passes straight to the next waiter
      } else {
        this.active--;
      }
    };
  }
}

function waitTimeout(limit: number): DomainError {
  return new DomainError('UPSTREAM_TIMEOUT', `no free upstream slot (max_concurrent_requests ${limit}) before the deadline`, {
    max_concurrent_requests: limit,
  });
}
