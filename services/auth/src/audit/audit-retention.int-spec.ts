import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import type { AuditRecord } from '#libs/contracts';
import { TEST_DATABASE_KINDS, openTestDatabase, uniqueId, type TestDatabase } from '#libs/testing';
import { openAuthDatabase } from '../database/auth-database.js';
import { AuditRetention } from './audit-retention.js';
import { AuditRepository } from './audit.repository.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T12:00:00Z');

function record(alias: string, time: number): AuditRecord {
  return { time: new Date(time).toISOString(), key_alias: alias, token_hash_prefix: null, team_id: null, organization_id: null, server_name: 's', tool: 't', status: 'success', duration_ms: 1, error_code: null, session_id: null };
}

describe.each(TEST_DATABASE_KINDS)('audit log retention (database: %s)', (kind) => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let repository: AuditRepository;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    dataSource = await openAuthDatabase(database.target);
    repository = new AuditRepository(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database?.close();
  });

  const count = async (alias: string) => (await repository.query({ key_alias: alias }, 0, 1)).total;

  it('deletes the rows older than the period in batches, keeps the newer ones, and does nothing without a period', async () => {
    const alias = uniqueId('ret');
    // more old rows than one delete statement takes, so the cleanup has to loop
    const old = Array.from({ length: 6_200 }, (_, i) => record(alias, NOW - 40 * DAY - i * 1000));
    for (let i = 0; i < old.length; i += 1000) await repository.insertMany(old.slice(i, i + 1000));
    await repository.insertMany([record(alias, NOW - 29 * DAY), record(alias, NOW - DAY), record(alias, NOW)]);
    expect(await count(alias)).toBe(6_203);

    const keepAll = new AuditRetention(repository, { intervalMs: 3_600_000, firstRunDelayMs: 0 }, () => NOW);
    expect(await keepAll.cleanUp()).toBe(0);
    expect(await count(alias)).toBe(6_203);

    const sut = new AuditRetention(repository, { auditRetentionMs: 30 * DAY, intervalMs: 3_600_000, firstRunDelayMs: 0 }, () => NOW);
    expect(await sut.cleanUp()).toBe(6_200);
    expect(await count(alias)).toBe(3);
    expect(await sut.cleanUp()).toBe(0);
  });

  it('stores every field of every record of a batch as given, nulls included, and reads them back newest first', async () => {
    const alias = uniqueId('all');
    const full: AuditRecord = {
      time: new Date(NOW).toISOString(),
      key_alias: alias,
      token_hash_prefix: 'abcd1234',
      team_id: 'team-1',
      organization_id: 'org-1',
      server_name: 'srv',
      tool: "it's \\ a \"tool\"",
      status: 'error',
      duration_ms: 1234,
      error_code: 'UPSTREAM_TIMEOUT',
      session_id: 'sess-1',
    };
    await repository.insertMany([record(alias, NOW - 1000), full]);
    const { rows, total } = await repository.query({ key_alias: alias }, 0, 10);
    expect(total).toBe(2);
    const { id, ...stored } = rows[0]!;
    expect(id).toMatch(/^\d+$/);
    expect(stored).toEqual(full);
    expect(rows[1]).toMatchObject({ key_alias: alias, token_hash_prefix: null, team_id: null, organization_id: null, error_code: null, session_id: null, duration_ms: 1 });
  });
});
