import { describe, expect, it } from 'vitest';
import { DomainError } from '#libs/contracts';
import { Semaphore } from './semaphore.js';

describe('Semaphore', () => {
  it('admits up to its limit at once', async () => {
    const sut = new Semaphore(2);
    const a = await sut.acquire();
    await sut.acquire();
    expect(sut.inUse).toBe(2);
    let third = false;
    const pending = sut.acquire().then((release) => {
      third = true;
      return release;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(third).toBe(false);
    expect(sut.waiting).toBe(1);
    a();
    await pending;
    expect(third).toBe(true);
    expect(sut.inUse).toBe(2);
  });

  it('serves waiters in arrival order', async () => {
    const sut = new Semaphore(1);
    const first = await sut.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) => sut.acquire().then((release) => (order.push(n), release())));
    first();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
    expect(sut.inUse).toBe(0);
  });

  it('fails a waiter with UPSTREAM_TIMEOUT when its deadline passes, and forgets it', async () => {
    const sut = new Semaphore(1);
    const held = await sut.acquire();
    const error = await sut.acquire(Date.now() + 20).catch((e) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error.code).toBe('UPSTREAM_TIMEOUT');
    expect(sut.waiting).toBe(0);
    held();
    expect(sut.inUse).toBe(0);
  });

  it('fails at once when the deadline has already passed', async () => {
    const sut = new Semaphore(1);
    await sut.acquire();
    await expect(sut.acquire(Date.now() - 1)).rejects.toMatchObject({ code: 'UPSTREAM_TIMEOUT' });
  });

  it('ignores a second release of the same slot', async () => {
    const sut = new Semaphore(1);
    const release = await sut.acquire();
    release();
    release();
    expect(sut.inUse).toBe(0);
    await sut.acquire();
    expect(sut.inUse).toBe(1);
  });

  it('rejects a limit below one', () => {
    expect(() => new Semaphore(0)).toThrow();
  });
});
