import { describe, expect, it, vi } from 'vitest';
import type { Bus } from '#libs/bus';
import { DomainError } from '#libs/contracts';
import type { AccessService } from '../catalog/access.service.js';
import type { CatalogService } from '../catalog/catalog.service.js';
import type { ProtectedResource } from '../oauth/protected-resource.js';
import { keyPrefix, PermissionExplainer } from './permission-explainer.js';

const KEY = 'sk-unknownKeyThatWasNeverIssued0123456789';

function explainerRefusing(reason: string, message: string): PermissionExplainer {
  const bus = { call: vi.fn(async () => Promise.reject(new DomainError('UNAUTHENTICATED', message, { reason }))) } as unknown as Bus;
  return new PermissionExplainer(bus, {} as CatalogService, {} as AccessService, {} as ProtectedResource);
}

async function errorOf(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe('GET /v1/mcp/permissions?key= for a key that does not verify', () => {
  it('is NOT_FOUND (404) for an unknown key, naming its prefix only', async () => {
    const error = await errorOf(explainerRefusing('unknown_key', 'invalid API key').explain({ key: KEY }));
    expect(error).toMatchObject({ code: 'NOT_FOUND', message: 'key: no key matches sk-unk…', details: { field: 'key', key_prefix: 'sk-unk…' } });
    expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain(KEY.slice(0, 7));
  });

  it('is INVALID_ARGUMENT (400), never UNAUTHENTICATED, for a blocked or expired key', async () => {
    const error = await errorOf(explainerRefusing('blocked', 'this key is blocked').explain({ key: KEY }));
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'key sk-unk…: this key is blocked', details: { reason: 'blocked' } });
  });

  it('never shows more than half of a short key', () => {
    expect(keyPrefix('sk-1234')).toBe('sk-…');
    expect(keyPrefix('abc')).toBe('a…');
  });
});
