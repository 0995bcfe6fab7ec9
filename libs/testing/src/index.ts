import { randomBytes } from 'node:crypto';

/** Services shared with the rest of the machine: each test run gets its own namespace, prefix and database. */
export const TEST_NATS_URL = 'nats://127.0.0.1:4222';
export const TEST_REDIS_URL = 'redis://127.0.0.1:6379';
export const TEST_PG_BASE = 'postgres://postgres@127.0.0.1:5432';

export function uniqueId(prefix = 't'): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export function testNamespace(): string {
  return uniqueId('test_');
}

export function testDatabaseUrl(): string {
  return `${TEST_PG_BASE}/${uniqueId('sb_test_')}`;
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 5000, intervalMs = 25): Promise<NonNullable<T>> {
  const started = Date.now();
  let lastError: unknown;
  while (Date.now() - started < timeoutMs) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${(lastError as Error).message}` : ''}`);
}
export * from './test-database.js';
