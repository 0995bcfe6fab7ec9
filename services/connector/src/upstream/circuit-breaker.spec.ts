import { describe, expect, it } from 'vitest';
import { DomainError } from '#libs/contracts';
import { CircuitBreaker, isUpstreamFailure, judge } from './circuit-breaker.js';

const down = () => new DomainError('UPSTREAM_UNAVAILABLE', 'upstream x is unreachable', { server: 'x' });

describe('CircuitBreaker', () => {
  it('opens after the threshold of failures in a row, refuses at once while open, half-opens for one trial', () => {
    let now = 0;
    const breaker = new CircuitBreaker('x', { threshold: 3, openMs: 1_000, maxOpenMs: 4_000 }, () => now);
    for (let i = 0; i < 2; i++) {
      breaker.admit();
      expect(breaker.failed()).toBe(false);
    }
    breaker.admit();
    expect(breaker.failed()).toBe(true);
    expect(breaker.state).toBe('open');
    expect(() => breaker.admit()).toThrow(/circuit open/);
    now += 1_000;
    expect(breaker.state).toBe('half-open');
    breaker.admit(); // the trial
    expect(() => breaker.admit()).toThrow(DomainError); // only one at a time
    expect(breaker.failed()).toBe(true); // the trial failed: open again, twice as long
    now += 1_999;
    expect(() => breaker.admit()).toThrow(DomainError);
    now += 1;
    breaker.admit();
    breaker.succeeded();
    expect(breaker.state).toBe('closed');
    breaker.admit();
  });

  it('a success in between starts the count again', () => {
    const breaker = new CircuitBreaker('x', { threshold: 2, openMs: 1_000, maxOpenMs: 1_000 });
    breaker.failed();
    breaker.succeeded();
    expect(breaker.failed()).toBe(false);
    expect(breaker.failed()).toBe(true);
  });

  it('counts what says the upstream is failing, not its answers', () => {
    expect(isUpstreamFailure(down())).toBe(true);
    expect(isUpstreamFailure(new DomainError('UPSTREAM_TIMEOUT', 'slow'))).toBe(true);
    expect(isUpstreamFailure(new DomainError('UPSTREAM_UNAVAILABLE', '503', { http_status: 503 }))).toBe(true);
    expect(isUpstreamFailure(new DomainError('UPSTREAM_UNAVAILABLE', '401', { http_status: 401 }))).toBe(false);
    expect(isUpstreamFailure(new DomainError('INVALID_ARGUMENT', 'its JSON-RPC error', { jsonrpc_code: -32602 }))).toBe(false);
    const breaker = new CircuitBreaker('x', { threshold: 1, openMs: 1_000, maxOpenMs: 1_000 });
    const warnings: string[] = [];
    judge(breaker, new DomainError('INVALID_ARGUMENT', 'an answer'), (m) => warnings.push(m));
    expect(breaker.state).toBe('closed');
    // a timeout while the upstream waited on the client's answer says nothing about the upstream
    judge(breaker, new DomainError('UPSTREAM_TIMEOUT', 'slow'), (m) => warnings.push(m), true);
    expect(breaker.state).toBe('closed');
    judge(breaker, down(), (m) => warnings.push(m));
    expect(breaker.state).toBe('open');
    expect(warnings).toHaveLength(1);
  });
});
