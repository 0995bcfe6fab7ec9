import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '#libs/contracts';
import { waitFor } from '#libs/testing';
import { BatchSender } from './batch-sender.js';
import { InProcessBus } from './in-process-bus.js';

const Store = defineContract('StoreNumbers', 'sb.test.batch-sender.store', z.array(z.number()).max(100), z.object({ accepted: z.number() }));
const OPTIONS = { what: 'numbers', flushEveryMs: 20, maxBatch: 3, maxPending: 5, retryMs: 20, timeoutMs: 1_000 };

describe('BatchSender', () => {
  let bus: InProcessBus;
  const senders: BatchSender<typeof Store>[] = [];
  const sender = () => {
    const s = new BatchSender(bus, Store, OPTIONS);
    senders.push(s);
    return s;
  };
  /** Serves Store, recording each batch. */
  const serve = () => {
    const batches: number[][] = [];
    const stop = bus.serve(Store, 'store', async (data) => {
      batches.push(data as number[]);
      return { accepted: (data as number[]).length };
    });
    return { batches, stop };
  };
  afterEach(async () => {
    for (const s of senders.splice(0)) await s.close();
    await bus?.close();
  });

  it('sends in batches of at most maxBatch, in order, without the caller waiting', async () => {
    bus = new InProcessBus();
    const { batches } = serve();
    const s = sender();
    for (let n = 1; n <= 7; n++) s.add(n);
    await waitFor(() => batches.flat().length === 7, 2000);
    expect(batches.flat()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(batches.every((b) => b.length <= 3)).toBe(true);
    expect(s.waiting).toBe(0);
  });

  it('delivers every item however additions interleave with the sends (none left waiting for a later one)', async () => {
    bus = new InProcessBus();
    const { batches } = serve();
    const s = sender();
    const added: number[] = [];
    for (let n = 0; n < 40; n++) {
      added.push(n);
      s.add(n);
      if (n % 3 === 0) await Promise.resolve();
      else if (n % 3 === 1) await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => batches.flat().length === 40, 3000);
    expect(batches.flat()).toEqual(added);
  });

  it('keeps what nobody accepted and sends it once a server answers again; past maxPending the oldest go', async () => {
    bus = new InProcessBus();
    const s = sender();
    for (let n = 1; n <= 8; n++) s.add(n);
    await s.flush(); // no server: the send fails, the items wait
    expect(s.waiting).toBe(5);
    const { batches } = serve();
    await waitFor(() => s.waiting === 0, 2000);
    expect(batches.flat()).toEqual([4, 5, 6, 7, 8]);
  });

  it('sends what waits when closed', async () => {
    bus = new InProcessBus();
    const { batches } = serve();
    const s = sender();
    s.add(1);
    s.add(2);
    await s.close();
    expect(batches.flat()).toEqual([1, 2]);
  });
});
