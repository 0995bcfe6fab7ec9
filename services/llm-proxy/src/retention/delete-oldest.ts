import type { DataSource } from 'typeorm';

/** Deletes at most `limit` rows of `table` whose `timeColumn` is before `cutoff`, oldest first; returns how many. */
export async function deleteOldest(dataSource: DataSource, table: string, keyColumn: string, timeColumn: string, cutoff: Date, limit: number): Promise<number> {
  // A SELECT around the DELETE: TypeORM returns a plain row list for it on Postgres and PGlite alike.
  const [{ n }] = await dataSource.query(
    `WITH gone AS (DELETE FROM ${table} WHERE ${keyColumn} IN (SELECT ${keyColumn} FROM ${table} WHERE ${timeColumn} < $1 ORDER BY ${timeColumn} LIMIT $2) RETURNING 1)
     SELECT count(*)::int AS n FROM gone`,
    [cutoff, limit],
  );
  return n as number;
}
