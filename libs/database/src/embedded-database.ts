import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PglitePgConnection } from '@electric-sql/pglite/node-postgres';
import pg from 'pg';
import { acquireDataDirLock } from './data-dir-lock.js';

/** The data folder when SWITCHBOARD_DATA_DIR is not set (relative to the working directory). */
export const DEFAULT_DATA_DIR = '.switchboard';

/** Inside the data folder: PGlite's files and the lock naming the process that has them open. */
const PGLITE_DIR = 'pglite';
const LOCK_FILE = 'pglite.lock';

/** A query waiting longer than this for the one connection fails instead of hanging (e.g. a query issued inside another's transaction). */
const CONNECTION_WAIT_MS = 60_000;

export interface EmbeddedTarget {
  kind: 'pglite';
  database: EmbeddedDatabase;
}

/**
 * One PGlite instance on a data folder, shared by every service DataSource of this process. PGlite is one
 * Postgres session: all access goes through one pg pool of ONE connection, so a transaction holds it to its end
 * and never interleaves with another DataSource's queries.
 */
export interface EmbeddedDatabase {
  readonly dataDir: string;
  /** Pass to openServiceDatabase (openAuthDatabase, openRegistryDatabase). */
  readonly target: EmbeddedTarget;
  /** The shared pool (one connection, real node-postgres over PGlite's protocol). */
  readonly pool: pg.Pool;
  /** Closes the pool and PGlite and releases the folder. DataSources on it must not be used afterwards. */
  close(): Promise<void>;
}

/** True when `dataDir` holds an embedded database (opening it would not create a new one). */
export function embeddedDatabaseExists(dataDir: string): boolean {
  return existsSync(join(resolve(dataDir), PGLITE_DIR, 'PG_VERSION'));
}

/**
 * Opens (creating it when new) the embedded database in `dataDir`. A folder open in another live process gives
 * DataDirInUseError naming it; a lock left by a dead process is taken over. A new folder takes a few seconds.
 */
export async function openEmbeddedDatabase(dataDir: string): Promise<EmbeddedDatabase> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const releaseLock = await acquireDataDirLock(join(dir, LOCK_FILE));
  let pglite: PGlite | undefined;
  try {
    pglite = await PGlite.create(join(dir, PGLITE_DIR));
    const instance = pglite;
    // node-postgres with PGlite's protocol adapter as its connection: pg's own parsing, errors and result shapes
    class PgliteClient extends pg.Client {
      constructor(config: pg.ClientConfig) {
        super({ ...config, connection: new PglitePgConnection({ pglite: instance }) } as pg.ClientConfig);
      }
    }
    const pool = new pg.Pool({ Client: PgliteClient as unknown as new () => pg.ClientBase, max: 1, idleTimeoutMillis: 0, connectionTimeoutMillis: CONNECTION_WAIT_MS });
    // an idle client's error only drops that client (the next query gets a new one); without a listener it would crash the process
    pool.on('error', (error) => process.emitWarning(`embedded database connection error: ${error.message}`));
    return new PgliteDatabase(dir, pool, instance, releaseLock);
  } catch (error) {
    await pglite?.close().catch(() => undefined);
    releaseLock();
    throw error;
  }
}

class PgliteDatabase implements EmbeddedDatabase {
  readonly target: EmbeddedTarget = { kind: 'pglite', database: this };
  private closing: Promise<void> | undefined;

  constructor(
    readonly dataDir: string,
    readonly pool: pg.Pool,
    private readonly pglite: PGlite,
    private readonly releaseLock: () => void,
  ) {}

  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.pool.end();
        await this.pglite.close();
      } finally {
        this.releaseLock();
      }
    })();
    return this.closing;
  }
}
