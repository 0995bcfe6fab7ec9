import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DomainError, defineContract } from '#libs/contracts';
import { TEST_NATS_URL, testNamespace } from '#libs/testing';
import { SILENCE_MS } from './liveness.js';
import { headers } from '@nats-io/transport-node';
import { NatsBus } from './nats-bus.js';

// A call whose replica dies while working on it is given up once the replica has been silent for SILENCE_MS
// (retryable UPSTREAM_UNAVAILABLE), instead of at the caller's deadline; a replica that is alive keeps a long call
// going with heartbeats.

const Work = defineContract('Work', 'sb.v1.test.liveness.work', z.object({ ms: z.number() }), z.object({ done: z.boolean() }));

describe('NatsBus: liveness of calls in flight', () => {
  const namespace = testNamespace();
  let caller: NatsBus;

  beforeAll(async () => {
    caller = await NatsBus.connect({ url: TEST_NATS_URL, namespace });
  });

  afterAll(async () => {
    await caller.close();
  });

  it('a call longer than the silence limit completes: the working replica sends heartbeats', async () => {
    const server = await NatsBus.connect({ url: TEST_NATS_URL, namespace });
    const stop = server.serve(Work, 'liveness-long', (data) => new Promise((resolve) => setTimeout(() => resolve({ done: true }), (data as { ms: number }).ms)));
    try {
      await server.flush();
      await expect(caller.call(Work, { ms: SILENCE_MS + 1_500 }, { timeoutMs: 30_000 })).resolves.toEqual({ done: true });
    } finally {
      stop();
      await server.close();
    }
  }, 20_000);

  it('a call whose replica disappears mid-call fails soon after the silence limit, retryable, not at its deadline', async () => {
    const server = await NatsBus.connect({ url: TEST_NATS_URL, namespace });
    let started!: () => void;
    const working = new Promise<void>((resolve) => (started = resolve));
    server.serve(Work, 'liveness-dies', () => {
      started();
      return new Promise(() => undefined); // never answers: the replica dies first
    });
    await server.flush();
    const t0 = Date.now();
    const call = caller.call(Work, { ms: 0 }, { timeoutMs: 60_000 });
    const outcome = call.then(
      () => undefined,
      (error: unknown) => error,
    );
    await working;
    await server.connection.close(); // as a kill -9 looks from NATS: the connection is gone, no reply ever comes
    const error = (await outcome) as DomainError;
    const elapsed = Date.now() - t0;
    expect(error).toBeInstanceOf(DomainError);
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.retryable).toBe(true);
    expect(error.details?.callee_lost).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(SILENCE_MS - 100);
    expect(elapsed).toBeLessThan(SILENCE_MS + 1_500);
  }, 20_000);

  it('a heartbeat naming a streamed message the caller never received gives the call up at once', async () => {
    // a replica whose first streamed message was lost on the way: its heartbeat says it sent one
    const raw = await NatsBus.connect({ url: TEST_NATS_URL, namespace });
    const sub = raw.connection.subscribe(raw.subject(Work.subject), {
      queue: 'liveness-lost',
      callback: (_err, msg) => {
        const h = headers();
        h.set('Sb-Frame', 'h');
        h.set('Sb-Sent', '1');
        raw.connection.publish(msg.reply!, undefined, { headers: h });
      },
    });
    try {
      await raw.flush();
      const t0 = Date.now();
      const error = (await caller.call(Work, { ms: 0 }, { timeoutMs: 30_000, onMessage: () => undefined }).catch((e: unknown) => e)) as DomainError;
      expect(error).toBeInstanceOf(DomainError);
      expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(error.details?.stream_lost).toBe(true);
      expect(Date.now() - t0).toBeLessThan(1_000);
    } finally {
      sub.unsubscribe();
      await raw.close();
    }
  });

  it('a plain NATS request (a client of the public admin subjects) gets no heartbeat: its first message is the reply', async () => {
    const server = await NatsBus.connect({ url: TEST_NATS_URL, namespace });
    const stop = server.serve(Work, 'liveness-plain', (data) => new Promise((resolve) => setTimeout(() => resolve({ done: true }), (data as { ms: number }).ms)));
    const client = await NatsBus.connect({ url: TEST_NATS_URL, namespace });
    try {
      await server.flush();
      const reply = await client.connection.request(client.subject(Work.subject), new TextEncoder().encode(JSON.stringify({ meta: {}, data: { ms: 1_500 } })), { timeout: 10_000 });
      expect(JSON.parse(new TextDecoder().decode(reply.data))).toEqual({ ok: true, data: { done: true } });
    } finally {
      stop();
      await Promise.all([server.close(), client.close()]);
    }
  }, 20_000);
});
