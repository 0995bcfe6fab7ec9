import { EventEmitter } from 'node:events';
import pg from 'pg';
import { DataSource, type DataSourceOptions, type EntitySchema, type MixedList } from 'typeorm';
import type { EmbeddedTarget } from './embedded-database.js';

/** Where a service's tables live: a Postgres server, or the embedded database (openEmbeddedDatabase) of this process. */
export type DatabaseTarget = { kind: 'postgres'; url: string } | EmbeddedTarget;

export interface ServiceDatabaseOptions {
  target: DatabaseTarget;
  /** The service that owns these tables; names its migrations table so services never share one. */
  service: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function | string>;
  poolSize?: number;
}

/** Creates the database named in `url` when it does not exist yet (first start on a fresh machine). */
export async function ensureDatabaseExists(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) return;
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`).catch((error: { code?: string }) => {
        // another service created it at the same moment: 42P04 (exists) or 23505 (pg_database's unique index)
        if (error.code !== '42P04' && error.code !== '23505') throw error;
      });
    }
  } finally {
    await client.end();
  }
}

/**
 * Opens the service's DataSource and runs its pending migrations (the same ones on Postgres and PGlite). Never
 * `synchronize`. On Postgres the database is created first when missing.
 */
export async function openServiceDatabase(options: ServiceDatabaseOptions): Promise<DataSource> {
  const { target } = options;
  if (target.kind === 'postgres') await ensureDatabaseExists(target.url);
  const connection: Partial<DataSourceOptions> =
    target.kind === 'postgres' ? { url: target.url, extra: { max: options.poolSize ?? 10 } } : { driver: sharedPoolDriver(target.database.pool) };
  const dataSource = new DataSource({
    type: 'postgres',
    ...connection,
    entities: options.entities,
    migrations: options.migrations,
    migrationsTableName: `${options.service.replace(/-/g, '_')}_migrations`,
    synchronize: false,
    logging: false,
    // Migrations own the schema, extensions included. Should an entity ever generate uuids, TypeORM's default
    // would be uuid-ossp, which PGlite lacks; gen_random_uuid() is core Postgres (13+) and PGlite has it.
    installExtensions: false,
    uuidExtension: 'pgcrypto',
  } as DataSourceOptions);
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  return dataSource;
}

/**
 * The "pg module" TypeORM's postgres driver is given for the embedded database: each DataSource gets a pool that
 * borrows the embedded database's one shared connection, and whose end() (DataSource.destroy) leaves it open.
 */
function sharedPoolDriver(shared: pg.Pool): { Pool: new () => object } {
  class SharedPool extends EventEmitter {
    connect(callback: (error: Error | undefined, client: pg.PoolClient | undefined, release: (error?: Error | boolean) => void) => void): void {
      shared.connect(callback as Parameters<pg.Pool['connect']>[0]);
    }

    end(callback?: (error?: Error) => void): void {
      callback?.();
    }
  }
  return { Pool: SharedPool };
}

const DATABASE_PING_TIMEOUT_MS = 1_000;

/**
 * True when the database answers `SELECT 1` within a second: a readiness check, answered well inside the edge's
 * ping timeout even when Postgres hangs rather than refuses (the edge would count the whole service as silent).
 */
export async function databaseAnswers(dataSource: DataSource, timeoutMs = DATABASE_PING_TIMEOUT_MS): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  const answer = dataSource.query('SELECT 1').then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([answer, late]);
  } finally {
    clearTimeout(timer);
  }
}
