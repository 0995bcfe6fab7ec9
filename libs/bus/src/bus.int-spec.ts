import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DomainError, defineContract, defineEvent } from '#libs/contracts';
import { TEST_NATS_URL, testNamespace, waitFor } from '#libs/testing';
import { JsonLogger } from '#libs/observability';
import { BusClient } from './bus-client.js';
import { BusContext } from './bus-context.js';
import { RpcHandler } from './rpc-handler.decorator.js';
import { startBusService } from './bootstrap.js';

const Echo = defineContract('Echo', 'sb.v1.test.echo', z.object({ text: z.string() }), z.object({ text: z.string(), remaining: z.number() }));
const Fail = defineContract('Fail', 'sb.v1.test.fail', z.object({ code: z.string() }), z.object({}));
const Crash = defineContract('Crash', 'sb.v1.test.crash', z.object({}), z.object({}));
const Nobody = defineContract('Nobody', 'sb.v1.test.nobody', z.object({}), z.object({}));
const Happened = defineEvent('Happened', 'sb.v1.test.events.thing.happened', z.object({ n: z.number() }));

@Controller()
class TestHandler {
  @RpcHandler(Echo)
  echo(@Payload() data: { text: string }, @Ctx() ctx: BusContext) {
    return { text: data.text.toUpperCase(), remaining: ctx.remainingMs() };
  }

  @RpcHandler(Fail)
  fail() {
    throw new DomainError('NOT_FOUND', 'no such thing', { id: 'x' });
  }

  @RpcHandler(Crash)
  crash() {
    throw new TypeError('boom');
  }
}

@Module({ controllers: [TestHandler] })
class TestModule {}

describe('bus (real NATS)', () => {
  let bus: BusClient;
  let app: INestMicroservice;

  beforeAll(async () => {
    bus = await BusClient.connect({ url: TEST_NATS_URL, namespace: testNamespace() });
    app = await startBusService({ module: { module: TestModule }, bus, queueGroup: 'test', logger: new JsonLogger('test', 'error') });
  });
  afterAll(async () => {
    await app.close();
    await bus.close();
  });

  it('calls a handler and parses its reply, passing the deadline along', async () => {
    const reply = await bus.call(Echo, { text: 'hi' }, { timeoutMs: 2000 });
    expect(reply.text).toBe('HI');
    expect(reply.remaining).toBeGreaterThan(1000);
    expect(reply.remaining).toBeLessThanOrEqual(2000);
  });

  it('carries a DomainError across with its code and details', async () => {
    const error = await bus.call(Fail, { code: 'x' }, { timeoutMs: 2000 }).catch((e) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'NOT_FOUND', message: 'no such thing', details: { id: 'x' } });
  });

  it('turns an unexpected error into INTERNAL, never a bare Nest message', async () => {
    const error = await bus.call(Crash, {}, { timeoutMs: 2000 }).catch((e) => e);
    expect(error).toMatchObject({ code: 'INTERNAL', message: 'boom' });
  });

  it('refuses a bad request before sending it', async () => {
    await expect(bus.call(Echo, { text: 5 } as never, { timeoutMs: 2000 })).rejects.toThrow();
  });

  it('fails fast when no service answers', async () => {
    const started = Date.now();
    const error = await bus.call(Nobody, {}, { timeoutMs: 5000 }).catch((e) => e);
    expect(error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('delivers events to every subscriber', async () => {
    const seen: number[] = [];
    const other = await BusClient.connect({ url: TEST_NATS_URL, namespace: bus.namespace.slice(0, -1) });
    bus.subscribe(Happened, (p) => void seen.push(p.n));
    other.subscribe(Happened, (p) => void seen.push(p.n * 10));
    await bus.flush();
    await other.flush();
    bus.publish(Happened, { n: 1 });
    await waitFor(() => seen.length === 2);
    expect(seen.sort()).toEqual([1, 10]);
    await other.close();
  });
});
