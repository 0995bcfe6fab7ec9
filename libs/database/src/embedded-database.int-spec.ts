import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '#libs/testing';
import { DataDirInUseError, openEmbeddedDatabase, openServiceDatabase, type EmbeddedDatabase } from './index.js';

class CreateNotes1700000000000 implements MigrationInterface {
  name = 'CreateNotes1700000000000';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE notes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), text varchar(64) NOT NULL)`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE notes`);
  }
}

const openNotes = (db: EmbeddedDatabase, service = 'notes') => openServiceDatabase({ target: db.target, service, entities: [], migrations: [CreateNotes1700000000000] });
const texts = async (ds: DataSource) => ((await ds.query(`SELECT text FROM notes ORDER BY text`)) as { text: string }[]).map((r) => r.text);

describe('embedded database (PGlite in a data folder)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'sb-embedded-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }
  async function open(dir: string): Promise<EmbeddedDatabase> {
    const db = await openEmbeddedDatabase(dir);
    cleanups.push(() => db.close());
    return db;
  }

  it('keeps the data when the folder is opened again after close, without rerunning migrations', async () => {
    const dir = tempDir();
    const first = await open(dir);
    const ds = await openNotes(first);
    await ds.query(`INSERT INTO notes (text) VALUES ($1)`, ['kept']);
    await ds.destroy();
    await first.close();

    const again = await open(dir);
    const reopened = await openNotes(again);
    expect(await texts(reopened)).toEqual(['kept']);
    expect(await reopened.query(`SELECT name FROM notes_migrations`)).toEqual([{ name: 'CreateNotes1700000000000' }]);
    await reopened.destroy();
  });

  it("lets several DataSources share the one instance, each with its own migrations table, never inside another's transaction", async () => {
    const db = await open(tempDir());
    const a = await openNotes(db, 'service-a');
    const b = await openServiceDatabase({ target: db.target, service: 'service-b', entities: [], migrations: [] });
    expect(await a.query(`SELECT count(*)::int AS n FROM service_a_migrations`)).toEqual([{ n: 1 }]);
    expect(await b.query(`SELECT count(*)::int AS n FROM service_b_migrations`)).toEqual([{ n: 0 }]);

    // b writes while a's transaction is open; a rolls back: b's row must survive (on the same session it would be
    // rolled back with a's). a goes on once b's write either waits for the connection or has run.
    let bSettled = false;
    let bWrite: Promise<unknown> | undefined;
    const aWork = a.transaction(async (manager) => {
      await manager.query(`INSERT INTO notes (text) VALUES ('from-a')`);
      bWrite = b.query(`INSERT INTO notes (text) VALUES ('from-b')`).finally(() => (bSettled = true));
      await waitFor(() => db.pool.waitingCount > 0 || bSettled, 5000, 1);
      throw new Error('roll back a');
    });
    await expect(aWork).rejects.toThrow('roll back a');
    await bWrite;
    expect(await texts(a)).toEqual(['from-b']);

    // destroying one DataSource leaves the shared instance to the others
    await b.destroy();
    expect(await texts(a)).toEqual(['from-b']);
    await a.destroy();
  });

  it('refuses a second open in the same process', async () => {
    const dir = tempDir();
    const db = await open(dir);
    const error = await openEmbeddedDatabase(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataDirInUseError);
    expect((error as Error).message).toContain('already open in this process');
    expect(await db.pool.query('SELECT 1 AS one')).toMatchObject({ rows: [{ one: 1 }] });
  });

  it('takes over a lock written before the last reboot, whatever process its pid names now', async () => {
    const dir = tempDir();
    // the parent of this process is alive, but the lock says it was written in another boot
    writeFileSync(join(dir, 'pglite.lock'), JSON.stringify({ pid: process.ppid, hostname: hostname(), since: '2026-01-01T00:00:00.000Z', boot: 'an-earlier-boot' }));
    const db = await open(dir);
    expect(JSON.parse(readFileSync(join(dir, 'pglite.lock'), 'utf8'))).toMatchObject({ pid: process.pid });
    await db.close();
  });

  it('refuses a folder whose lock names a live process, saying which', async () => {
    const dir = tempDir();
    await (await openEmbeddedDatabase(dir)).close();
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60000)'], { stdio: 'ignore' });
    cleanups.push(() => void holder.kill());
    await once(holder, 'spawn');
    writeFileSync(join(dir, 'pglite.lock'), JSON.stringify({ pid: holder.pid, hostname: hostname(), since: '2026-01-01T00:00:00.000Z' }));

    const error = await openEmbeddedDatabase(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataDirInUseError);
    expect((error as DataDirInUseError).holder?.pid).toBe(holder.pid);
    expect((error as Error).message).toContain(`in use by process ${holder.pid}`);
  });

  it('takes over a lock left by a process that is gone', async () => {
    const dir = tempDir();
    const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await once(gone, 'exit');
    writeFileSync(join(dir, 'pglite.lock'), JSON.stringify({ pid: gone.pid, hostname: hostname(), since: '2026-01-01T00:00:00.000Z' }));

    const db = await open(dir);
    expect(JSON.parse(readFileSync(join(dir, 'pglite.lock'), 'utf8'))).toMatchObject({ pid: process.pid });
    await db.close();
    expect(() => readFileSync(join(dir, 'pglite.lock'))).toThrow(/ENOENT/);
  });
});
