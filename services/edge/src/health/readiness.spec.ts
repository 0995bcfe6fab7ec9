import { describe, expect, it } from 'vitest';
import { readinessOf } from './readiness.js';

const allUp = {
  registry: { bus: true, postgres: true, store: true, catalog: true },
  auth: { bus: true, postgres: true },
  connector: { bus: true },
};

describe('readinessOf', () => {
  it('is healthy when every check passes', () => {
    expect(readinessOf({ bus: true, store: true }, allUp)).toEqual({ status: 'healthy', degraded: [] });
  });

  it('is degraded, not unhealthy, while Redis or Postgres is down: the gateway serves through both', () => {
    const services = { ...allUp, registry: { ...allUp.registry, postgres: false, store: false }, auth: { bus: true, postgres: false } };
    expect(readinessOf({ bus: true, store: false }, services)).toEqual({
      status: 'degraded',
      degraded: ['store', 'registry.postgres', 'registry.store', 'auth.postgres'],
    });
  });

  it('is unhealthy when the bus is down, a service does not answer, or the catalog was never built', () => {
    expect(readinessOf({ bus: false, store: true }, allUp).status).toBe('unhealthy');
    expect(readinessOf({ bus: true, store: true }, { ...allUp, connector: undefined }).status).toBe('unhealthy');
    expect(readinessOf({ bus: true, store: false }, { ...allUp, registry: { ...allUp.registry, catalog: false } })).toEqual({
      status: 'unhealthy',
      degraded: ['store'],
    });
  });
});
