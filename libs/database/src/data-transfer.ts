import type { DataSource, EntityManager } from 'typeorm';
import type { DatabaseTarget } from './data-source.js';

/** What one service contributes to `npm run data`: how to open (and migrate) its database, and its tables. */
export interface ServiceData {
  service: string;
  open(target: DatabaseTarget): Promise<DataSource>;
  /** Parents before children (the order rows are written in; deleted in reverse). `key` orders an export's rows. */
  tables: readonly { name: string; key: string }[];
}

/** One service's rows as Postgres renders them to JSON (timestamps to the microsecond, jsonb as JSON). */
export interface ServiceDump {
  /** The migrations the source had run, oldest first. */
  migrations: string[];
  tables: Record<string, Record<string, unknown>[]>;
}

/** The `export` file. */
export interface DataDump {
  format: 'switchboard-data';
  version: 1;
  exported_at: string;
  services: Record<string, ServiceDump>;
}

/** Rows per INSERT while writing: keeps each statement's parameter well below any size limit. */
const WRITE_CHUNK = 1000;

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

function migrationsTable(dataSource: DataSource): string {
  return (dataSource.options as { migrationsTableName?: string }).migrationsTableName ?? 'migrations';
}

/** Every row of the service's tables, exactly as stored (ids, hashes and ciphertext untouched). */
export async function readService(dataSource: DataSource, spec: ServiceData): Promise<ServiceDump> {
  const migrations = ((await dataSource.query(`SELECT name FROM ${ident(migrationsTable(dataSource))} ORDER BY id`)) as { name: string }[]).map((r) => r.name);
  const tables: ServiceDump['tables'] = {};
  for (const { name, key } of spec.tables) {
    const [{ rows }] = await dataSource.query(`SELECT coalesce(json_agg(t ORDER BY t.${ident(key)}), '[]'::json) AS rows FROM ${ident(name)} t`);
    tables[name] = rows;
  }
  return { migrations, tables };
}

/** Rows per table of the service. */
export async function countRows(dataSource: DataSource | EntityManager, spec: ServiceData): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { name } of spec.tables) {
    const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM ${ident(name)}`);
    counts[name] = n;
  }
  return counts;
}

/** Thrown when the target already holds rows and replacing them was not asked for; nothing has been written. */
export class TargetNotEmptyError extends Error {
  override name = 'TargetNotEmptyError';
  constructor(readonly occupied: string[]) {
    super(`the target already holds rows (${occupied.join(', ')}); nothing was written: pass --force to replace them`);
  }
}

/**
 * Writes a service's dump into its (migrated) database in ONE transaction: refuses a target that holds rows in
 * those tables unless `force` (then those rows are deleted first), inserts parents before children, then moves
 * identity sequences past the copied ids. Returns the rows written per table.
 */
export async function writeService(dataSource: DataSource, spec: ServiceData, dump: ServiceDump, options: { force: boolean }): Promise<Record<string, number>> {
  const known = new Set(dataSource.migrations.map((m) => m.name));
  const unknown = dump.migrations.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new Error(`the ${spec.service} data comes from a newer Switchboard (migration ${unknown.join(', ')} is unknown here): upgrade this one first`);
  }
  return dataSource.transaction(async (manager) => {
    if (options.force) {
      for (const { name } of [...spec.tables].reverse()) await manager.query(`DELETE FROM ${ident(name)}`);
    } else {
      const occupied = occupiedTables(spec.service, await countRows(manager, spec));
      if (occupied.length > 0) throw new TargetNotEmptyError(occupied);
    }
    const written: Record<string, number> = {};
    for (const { name } of spec.tables) {
      const rows = dump.tables[name] ?? [];
      for (let i = 0; i < rows.length; i += WRITE_CHUNK) {
        const chunk = rows.slice(i, i + WRITE_CHUNK);
        // the columns the dump has; any newer column gets its default
        const columns = Object.keys(chunk[0]!).map(ident).join(', ');
        await manager.query(`INSERT INTO ${ident(name)} (${columns}) SELECT ${columns} FROM json_populate_recordset(NULL::${ident(name)}, $1::json)`, [
          JSON.stringify(chunk),
        ]);
      }
      written[name] = rows.length;
      await advanceSequences(manager, name);
    }
    return written;
  });
}

/** `service.table n` for each table holding rows. */
export function occupiedTables(service: string, counts: Record<string, number>): string[] {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([table, n]) => `${service}.${table} ${n}`);
}

/** Identity and serial columns would otherwise hand out ids that the copied rows already use. */
async function advanceSequences(manager: EntityManager, table: string): Promise<void> {
  const columns: { column: string; sequence: string }[] = await manager.query(
    `SELECT a.attname AS column, pg_get_serial_sequence($1, a.attname) AS sequence
       FROM pg_attribute a
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND pg_get_serial_sequence($1, a.attname) IS NOT NULL`,
    [ident(table)],
  );
  for (const { column, sequence } of columns) {
    await manager.query(`SELECT setval($1, coalesce((SELECT max(${ident(column)}) FROM ${ident(table)}), 0) + 1, false)`, [sequence]);
  }
}
