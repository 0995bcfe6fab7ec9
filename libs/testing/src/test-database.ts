import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openEmbeddedDatabase, type DatabaseTarget } from '#libs/database';
import { TEST_PG_BASE, testDatabaseUrl } from './index.js';

/** The databases that integration suites run their database behaviour on: `describe.each(TEST_DATABASE_KINDS)`. */
export const TEST_DATABASE_KINDS = ['postgres', 'pglite'] as const;
export type TestDatabaseKind = (typeof TEST_DATABASE_KINDS)[number];

export interface TestDatabase {
  target: DatabaseTarget;
  /** Drops the Postgres database, or closes the embedded one and deletes its folder. Destroy its DataSources first. */
  close(): Promise<void>;
}

/** A fresh database of that kind: a new Postgres database on the machine's server, or PGlite in a new temp folder. */
export async function openTestDatabase(kind: TestDatabaseKind): Promise<TestDatabase> {
  if (kind === 'postgres') {
    const url = testDatabaseUrl();
    return { target: { kind: 'postgres', url }, close: () => dropTestDatabase(url) };
  }
  const dir = mkdtempSync(join(tmpdir(), 'sb-test-pglite-'));
  try {
    const embedded = await openEmbeddedDatabase(dir);
    return {
      target: embedded.target,
      close: async () => {
        await embedded.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Drops a database that testDatabaseUrl() named (connections still open are ended). */
export async function dropTestDatabase(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: `${TEST_PG_BASE}/postgres` });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${new URL(url).pathname.slice(1).replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
