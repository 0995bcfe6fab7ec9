import type { AuditRow } from './api';

/** The chart's time slices. */
export const BUCKETS = 24;

export interface Series {
  server: string;
  calls: number[];
  errors: number[];
}

/** Rows bucketed by time (BUCKETS equal slices from the oldest row shown to the newest), per server. */
export function bucketize(rows: AuditRow[]): { start: number; end: number; series: Series[] } {
  const times = rows.map((r) => Date.parse(r.time));
  const start = Math.min(...times);
  const end = Math.max(...times) + 1;
  const width = (end - start) / BUCKETS;
  const byServer = new Map<string, Series>();
  rows.forEach((row, i) => {
    let series = byServer.get(row.server_name);
    if (!series) byServer.set(row.server_name, (series = { server: row.server_name, calls: Array(BUCKETS).fill(0), errors: Array(BUCKETS).fill(0) }));
    const bucket = Math.min(BUCKETS - 1, Math.floor((times[i]! - start) / width));
    series.calls[bucket]!++;
    if (row.status !== 'success') series.errors[bucket]!++;
  });
  return { start, end, series: [...byServer.values()].sort((a, b) => sum(b.calls) - sum(a.calls)) };
}
export const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

