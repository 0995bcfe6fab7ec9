import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AuditRecord } from '#libs/contracts';
import type { AuditRepository } from './audit.repository.js';
import { AuditService } from './audit.service.js';

const record = (tool: string): AuditRecord => ({
  time: '2026-01-01T00:00:00.000Z',
  key_alias: 'k',
  token_hash_prefix: 'abcdef01',
  team_id: null,
  organization_id: null,
  server_name: 's',
  tool,
  status: 'success',
  duration_ms: 3,
  error_code: null,
  session_id: null,
});

describe('AuditService batching', () => {
  let insertMany: ReturnType<typeof vi.fn>;
  let sut: AuditService;

  beforeEach(() => {
    vi.useFakeTimers();
    insertMany = vi.fn(async () => undefined);
    sut = new AuditService({ insertMany } as unknown as AuditRepository, { flushIntervalMs: 200, maxBatch: 5 });
  });
  afterEach(() => vi.useRealTimers());

  it('writes buffered records once, 200 ms after the first', async () => {
    sut.enqueue([record('a')]);
    await vi.advanceTimersByTimeAsync(100);
    sut.enqueue([record('b'), record('c')]);
    expect(insertMany).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(100);
    expect(insertMany).toHaveBeenCalledTimes(1);
    expect(insertMany.mock.calls[0]![0].map((r: AuditRecord) => r.tool)).toEqual(['a', 'b', 'c']);
  });

  it('flushes at once when a full batch is waiting, in chunks of maxBatch', async () => {
    sut.enqueue(Array.from({ length: 12 }, (_, i) => record(`t${i}`)));
    await vi.advanceTimersByTimeAsync(0);
    expect(insertMany.mock.calls.map((c) => c[0].length)).toEqual([5, 5, 2]);
  });

  it('puts records back when the insert fails and writes them on the next try', async () => {
    insertMany.mockRejectedValueOnce(new Error('db down'));
    sut.enqueue([record('a'), record('b')]);
    await vi.advanceTimersByTimeAsync(200);
    expect(insertMany).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(insertMany).toHaveBeenCalledTimes(2);
    expect(insertMany.mock.calls[1]![0].map((r: AuditRecord) => r.tool)).toEqual(['a', 'b']);
  });

  it('flushes what is left on shutdown', async () => {
    sut.enqueue([record('a')]);
    await sut.onModuleDestroy();
    expect(insertMany).toHaveBeenCalledTimes(1);
  });

  it('pages queries from 1', async () => {
    const query = vi.fn(async () => ({ rows: [], total: 0 }));
    const reader = new AuditService({ query } as unknown as AuditRepository, { flushIntervalMs: 200, maxBatch: 5 });
    expect(await reader.query({ page: 3, page_size: 20, tool: 'x' })).toEqual({ rows: [], total: 0, page: 3, page_size: 20 });
    expect(query).toHaveBeenCalledWith({ tool: 'x' }, 40, 20);
  });
});
