import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DomainError, defineContract, defineEvent } from '#libs/contracts';
import { currentRequestId, remoteContext, runInContext, startTracing } from '#libs/observability';
import { waitFor } from '#libs/testing';
import type { Bus } from './bus.js';
import { isNoResponders } from './wire.js';

// The one test suite every Bus implementation passes (run by nats-bus.int-spec.ts and in-process-bus.spec.ts).

const Echo = defineContract('Echo', 'sb.v1.test.echo', z.object({ text: z.string() }), z.object({ text: z.string(), remaining: z.number() }));
const Fail = defineContract('Fail', 'sb.v1.test.fail', z.object({ code: z.string() }), z.object({}));
const Crash = defineContract('Crash', 'sb.v1.test.crash', z.object({}), z.object({}));
const Nobody = defineContract('Nobody', 'sb.v1.test.nobody', z.object({}), z.object({}));
const Slow = defineContract('Slow', 'sb.v1.test.slow', z.object({ ms: z.number() }), z.object({}));
const Who = defineContract('Who', 'sb.v1.test.who', z.object({}), z.object({ replica: z.number() }));
const Size = defineContract('Size', 'sb.v1.test.size', z.object({ blob: z.string(), replyBytes: z.number() }), z.object({ received: z.number(), blob: z.string() }));
const Count = defineContract('Count', 'sb.v1.test.count', z.object({ to: z.number(), bytes: z.number().default(0) }), z.object({ done: z.boolean() }), z.object({ n: z.number(), pad: z.string() }));
const Relay = defineContract('Relay', 'sb.v1.test.relay', z.object({}), z.object({}));
const WhoAsks = defineContract('WhoAsks', 'sb.v1.test.who-asks', z.object({}), z.object({ request_id: z.string().nullable() }));
const Happened = defineEvent('Happened', 'sb.v1.test.events.thing.happened', z.object({ n: z.number() }));

export interface BusFixture {
  /** A connection to the bus under test; every connection of one fixture sees the others. */
  connect(): Promise<Bus>;
  /** Called once after the suite. */
  close(): Promise<void>;
}

export function describeBusContract(name: string, makeFixture: () => Promise<BusFixture>): void {
  describe(`Bus contract: ${name}`, () => {
    let fixture: BusFixture;
    let bus: Bus;
    let server: Bus;
    let replica: Bus;
    const stops: (() => void)[] = [];

    beforeAll(async () => {
      fixture = await makeFixture();
      [bus, server, replica] = await Promise.all([fixture.connect(), fixture.connect(), fixture.connect()]);
      stops.push(
        server.serve(Echo, 'test', async (data, ctx) => ({ text: (data as { text: string }).text.toUpperCase(), remaining: (ctx.meta.deadline ?? Infinity) - Date.now() })),
        server.serve(Fail, 'test', async () => {
          throw new DomainError('NOT_FOUND', 'no such thing', { id: 'x' });
        }),
        server.serve(Crash, 'test', async () => {
          throw new TypeError('boom');
        }),
        server.serve(Slow, 'test', (data) => new Promise((resolve) => setTimeout(() => resolve({}), (data as { ms: number }).ms))),
        server.serve(Relay, 'test', () => server.call(Nobody, {}, { timeoutMs: 2000 })),
        server.serve(Who, 'test', async () => ({ replica: 1 })),
        server.serve(WhoAsks, 'test', async () => ({ request_id: currentRequestId() ?? null })),
        replica.serve(Who, 'test', async () => ({ replica: 2 })),
        server.serve(Size, 'test', async (data) => {
          const { blob, replyBytes } = data as { blob: string; replyBytes: number };
          return { received: blob.length, blob: 'y'.repeat(replyBytes) };
        }),
        server.serve(Count, 'test', async (data, ctx) => {
          const { to, bytes } = data as { to: number; bytes: number };
          for (let n = 1; n <= to; n++) ctx.send({ n, pad: 'p'.repeat(bytes) });
          return { done: true };
        }),
      );
      await Promise.all([bus.flush(), server.flush(), replica.flush()]);
    });

    afterAll(async () => {
      for (const stop of stops) stop();
      await Promise.all([bus, server, replica].map((b) => b?.close()));
      await fixture?.close();
    });

    it('calls a handler and parses its reply, passing the deadline along', async () => {
      const reply = await bus.call(Echo, { text: 'hi' }, { timeoutMs: 2000 });
      expect(reply.text).toBe('HI');
      expect(reply.remaining).toBeGreaterThan(1000);
      expect(reply.remaining).toBeLessThanOrEqual(2000);
    });

    it('runs the handler under the caller’s request id, and under none when the caller has none', async () => {
      startTracing({ service: 'bus-contract', enabled: false }); // the process's context propagation, as every service sets it up
      const reply = await runInContext(remoteContext(undefined, `req-${name}`), () => bus.call(WhoAsks, {}, { timeoutMs: 5000 }));
      expect(reply.request_id).toBe(`req-${name}`);
      expect((await bus.call(WhoAsks, {}, { timeoutMs: 5000 })).request_id).toBeNull();
    });

    it('never waits past the caller’s own deadline', async () => {
      const reply = await bus.call(Echo, { text: 'x' }, { timeoutMs: 10_000, deadline: Date.now() + 1500 });
      expect(reply.remaining).toBeLessThanOrEqual(1500);
    });

    it('carries a DomainError across with its code and details', async () => {
      const error = await bus.call(Fail, { code: 'x' }, { timeoutMs: 2000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DomainError);
      expect(error).toMatchObject({ code: 'NOT_FOUND', message: 'no such thing', details: { id: 'x' } });
    });

    it('turns an unexpected error into INTERNAL, never a bare framework message', async () => {
      const error = await bus.call(Crash, {}, { timeoutMs: 2000 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'INTERNAL', message: 'boom' });
    });

    it('refuses a bad request before sending it', async () => {
      await expect(bus.call(Echo, { text: 5 } as never, { timeoutMs: 2000 })).rejects.toThrow();
    });

    it('fails fast when no service answers', async () => {
      const started = Date.now();
      const error = await bus.call(Nobody, {}, { timeoutMs: 5000 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
      expect(isNoResponders(error)).toBe(true);
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('keeps "no service answered" recognisable when it comes from a hop behind the callee', async () => {
      const error = await bus.call(Relay, {}, { timeoutMs: 5000 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', message: 'no service is answering Nobody' });
      expect(isNoResponders(error)).toBe(true);
      const other = await bus.call(Fail, { code: 'x' }, { timeoutMs: 2000 }).catch((e: unknown) => e);
      expect(isNoResponders(other)).toBe(false);
    });

    it('gives BUS_TIMEOUT when the callee is too slow, and the late reply goes nowhere', async () => {
      const error = await bus.call(Slow, { ms: 400 }, { timeoutMs: 50 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'BUS_TIMEOUT' });
      await new Promise((r) => setTimeout(r, 450));
      expect((await bus.call(Echo, { text: 'after' }, { timeoutMs: 2000 })).text).toBe('AFTER');
    });

    it('shares calls between the replicas of a queue group', async () => {
      const seen = new Set<number>();
      for (let i = 0; i < 20 && seen.size < 2; i++) seen.add((await bus.call(Who, {}, { timeoutMs: 2000 })).replica);
      expect([...seen].sort()).toEqual([1, 2]);
    });

    it('streams messages in order ahead of the reply', async () => {
      const got: number[] = [];
      const reply = await bus.call(Count, { to: 50, bytes: 0 }, { timeoutMs: 5000, onMessage: (m) => got.push((m as { n: number }).n) });
      expect(reply).toEqual({ done: true });
      expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    });

    it('carries requests, replies and streamed messages larger than a broker message (3.5 MiB)', async () => {
      const big = 3.5 * 1024 * 1024;
      const reply = await bus.call(Size, { blob: 'x'.repeat(big), replyBytes: big }, { timeoutMs: 20_000 });
      expect(reply.received).toBe(big);
      expect(reply.blob.length).toBe(big);
      const sizes: number[] = [];
      await bus.call(Count, { to: 2, bytes: 1.5 * 1024 * 1024 }, { timeoutMs: 20_000, onMessage: (m) => sizes.push((m as { pad: string }).pad.length) });
      expect(sizes).toEqual([1.5 * 1024 * 1024, 1.5 * 1024 * 1024]);
      // and small calls still work beside them
      expect((await bus.call(Echo, { text: 'ok' }, { timeoutMs: 2000 })).text).toBe('OK');
    });

    it('delivers events to every subscriber', async () => {
      const seen: number[] = [];
      const stopA = bus.subscribe(Happened, (p) => void seen.push(p.n));
      const stopB = server.subscribe(Happened, (p) => void seen.push(p.n * 10));
      await Promise.all([bus.flush(), server.flush()]);
      bus.publish(Happened, { n: 1 });
      await waitFor(() => seen.length === 2);
      expect(seen.sort((a, b) => a - b)).toEqual([1, 10]);
      stopA();
      stopB();
    });

    it('delivers each event once to a queue group of consumers', async () => {
      const seen: string[] = [];
      const stops = [
        server.subscribe(Happened, (p) => void seen.push(`a${p.n}`), { queue: 'writers' }),
        replica.subscribe(Happened, (p) => void seen.push(`b${p.n}`), { queue: 'writers' }),
      ];
      await Promise.all([server.flush(), replica.flush()]);
      for (let n = 0; n < 20; n++) bus.publish(Happened, { n });
      await bus.flush();
      await waitFor(() => seen.length >= 20);
      await new Promise((r) => setTimeout(r, 100));
      expect(seen.map((s) => Number(s.slice(1))).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      stops.forEach((stop) => stop());
    });

    it('stops serving when the handler is removed', async () => {
      const Temp = defineContract('Temp', 'sb.v1.test.temp', z.object({}), z.object({}));
      const stop = server.serve(Temp, 'test', async () => ({}));
      await server.flush();
      await expect(bus.call(Temp, {}, { timeoutMs: 2000 })).resolves.toEqual({});
      stop();
      await server.flush();
      await expect(bus.call(Temp, {}, { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    });
  });
}
