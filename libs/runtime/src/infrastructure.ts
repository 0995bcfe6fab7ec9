import { resolve } from 'node:path';
import { InProcessBus, NatsBus, type Bus } from '#libs/bus';
import { openStores, type Stores } from '#libs/cache';
import { openEmbeddedDatabase, type DatabaseTarget, type EmbeddedDatabase } from '#libs/database';

/** What a service is given instead of connections of its own: the bus, the stores and the database. */
export interface Infrastructure {
  bus: Bus;
  /** Present when the service needs stores (sessions, catalog cache, rate counters). */
  stores?: Stores;
  /** Present when the service owns tables. */
  database?: DatabaseTarget;
}

export interface InfrastructureNeeds {
  database?: boolean;
  stores?: boolean;
}

/** The settings that choose each part: a URL selects the real server; without one, the embedded part. */
export interface InfrastructureEnv {
  NATS_URL?: string;
  NATS_NAMESPACE: string;
  DATABASE_URL?: string;
  REDIS_URL?: string;
  REDIS_PREFIX: string;
  SWITCHBOARD_DATA_DIR: string;
}

export interface OpenedInfrastructure extends Infrastructure {
  /** One line for the start-up log: which bus, database and stores this process uses. */
  description: string;
  close(): Promise<void>;
}

/**
 * Opens what `needs` asks for: NATS or the in-process bus, Postgres or the embedded database (PGlite in
 * SWITCHBOARD_DATA_DIR), Redis or memory stores. Each part is chosen by whether its URL is set.
 */
export async function openInfrastructure(
  env: InfrastructureEnv,
  needs: InfrastructureNeeds,
  name: string,
  /** The embedded database, when the caller began opening it already (on SWITCHBOARD_DATA_DIR). */
  opening?: Promise<EmbeddedDatabase>,
): Promise<OpenedInfrastructure> {
  const closers: (() => Promise<void>)[] = [];
  const parts: string[] = [];
  try {
    const bus: Bus = env.NATS_URL ? await NatsBus.connect({ url: env.NATS_URL, namespace: env.NATS_NAMESPACE, name }) : new InProcessBus();
    closers.push(() => bus.close());
    parts.push(env.NATS_URL ? `bus NATS (${redactUrl(env.NATS_URL)})` : 'bus in-process');

    let database: DatabaseTarget | undefined;
    if (needs.database) {
      if (env.DATABASE_URL) {
        database = { kind: 'postgres', url: env.DATABASE_URL };
        parts.push(`database Postgres (${redactUrl(env.DATABASE_URL)})`);
      } else {
        const dataDir = resolve(env.SWITCHBOARD_DATA_DIR);
        const embedded = await (opening ?? openEmbeddedDatabase(dataDir));
        closers.push(() => embedded.close());
        database = embedded.target;
        parts.push(`database embedded (${dataDir})`);
      }
    }

    let stores: Stores | undefined;
    if (needs.stores) {
      const opened = openStores({ redisUrl: env.REDIS_URL, prefix: env.REDIS_PREFIX });
      closers.push(() => opened.close());
      stores = opened;
      parts.push(env.REDIS_URL ? `stores Redis (${redactUrl(env.REDIS_URL)})` : 'stores in memory');
    }

    if (opening && !database) await (await opening).close(); // opened for nothing: DATABASE_URL or no need
    return {
      bus,
      stores,
      database,
      description: parts.join(', '),
      // Last opened, first closed: the bus goes last, so shutdown work (audit flush) can still use it.
      close: async () => {
        for (const close of closers.reverse()) await close().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}

/** A URL for a log line: the password (if any) replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '(unparsable URL)';
  }
}
