import { describe, expect, it } from 'vitest';
import type { AuditRow } from './api';
import { BUCKETS, bucketize } from './audit-buckets';

const row = (server: string, time: string, status = 'success'): AuditRow => ({
  id: `${server}-${time}`,
  time,
  key_alias: null,
  token_hash_prefix: null,
  team_id: null,
  organization_id: null,
  server_name: server,
  tool: 'echo',
  status,
  duration_ms: 1,
  error_code: null,
  session_id: null,
});

describe('the audit chart', () => {
  it('counts calls and unsuccessful calls per server in equal time slices, busiest server first', () => {
    const rows = [
      row('a', '2026-01-01T00:00:00Z'),
      row('b', '2026-01-01T00:00:00Z', 'error'),
      row('b', '2026-01-01T00:30:00Z', 'timeout'),
      row('b', '2026-01-01T01:00:00Z'),
    ];
    const { series } = bucketize(rows);
    expect(series.map((s) => s.server)).toEqual(['b', 'a']);
    const b = series[0]!;
    expect(b.calls).toHaveLength(BUCKETS);
    expect(b.calls.reduce((x, y) => x + y)).toBe(3);
    expect(b.errors.reduce((x, y) => x + y)).toBe(2);
    expect(b.calls[0]).toBe(1);
    expect(b.calls[BUCKETS - 1]).toBe(1);
    expect(b.calls.slice(1, BUCKETS - 1).reduce((x, y) => x + y)).toBe(1); // the one in the middle
  });
});
