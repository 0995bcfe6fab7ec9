import { afterEach, describe, expect, it, vi } from 'vitest';
import { ModernCall } from './modern-call.js';
import { ParkedCalls } from './parked-calls.js';

const sampling = { method: 'sampling/createMessage', params: { maxTokens: 5 } };
const roots = { method: 'roots/list' };

describe('ModernCall', () => {
  it('steps to done when the upstream answers without asking', async () => {
    const call = new ModernCall('a', undefined);
    call.settle({ result: { content: [] } });
    expect(await call.next()).toEqual({ kind: 'done', result: { content: [] } });
  });

  it('hands questions asked together to the client together, and asks again what a retry left unanswered', async () => {
    const call = new ModernCall('a', undefined);
    const step = call.next();
    call.ask('q1', sampling);
    call.ask('q2', roots);
    expect(await step).toEqual({ kind: 'input', requests: { q1: sampling, q2: roots } });
    expect(call.resume(undefined, { q1: { role: 'assistant' } })).toEqual([['q1', { role: 'assistant' }]]);
    expect(await call.next()).toEqual({ kind: 'input', requests: { q2: roots } });
    call.resume(undefined, { q2: { roots: [] } });
    call.settle({ error: new Error('upstream failed') });
    expect(await call.next()).toMatchObject({ kind: 'failed' });
  });

  it('sends notifications to the client request currently waiting on it', () => {
    const first = vi.fn();
    const second = vi.fn();
    const call = new ModernCall('a', first);
    call.send({ message: { jsonrpc: '2.0', method: 'notifications/progress' } });
    call.resume(second, {});
    call.send({ message: { jsonrpc: '2.0', method: 'notifications/message' } });
    expect(first).toHaveBeenCalledTimes(1);
    expect(second).toHaveBeenCalledTimes(1);
  });
});

describe('ParkedCalls', () => {
  afterEach(() => vi.useRealTimers());

  it('gives a parked call to its own caller once', () => {
    const parked = new ParkedCalls();
    const call = new ModernCall('a', undefined);
    parked.park(call);
    expect(parked.take(call.parkId, 'b')).toBeUndefined();
    expect(parked.take(call.parkId, 'a')).toBe(call);
    expect(parked.take(call.parkId, 'a')).toBeUndefined();
  });

  it('lets a call nobody came back for expire', () => {
    vi.useFakeTimers();
    const expired = vi.fn();
    const parked = new ParkedCalls(expired, 1_000);
    const call = new ModernCall('a', undefined);
    parked.park(call);
    vi.advanceTimersByTime(1_001);
    expect(expired).toHaveBeenCalledWith(call);
    expect(parked.take(call.parkId, 'a')).toBeUndefined();
  });
});

describe('ModernCall capabilities', () => {
  it('names the capabilities its questions need that the client did not declare', () => {
    const call = new ModernCall('a', undefined, { roots: {} });
    expect(call.missingCapabilities({ q1: sampling, q2: roots })).toEqual({ sampling: {} });
    expect(call.missingCapabilities({ q2: roots })).toBeUndefined();
  });
});
