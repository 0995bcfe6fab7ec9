import { describe, expect, it } from 'vitest';
import { Duration } from './common.js';

describe('Duration', () => {
  it('takes LiteLLM durations up to 1000 years, and refuses longer ones (no date Postgres keeps)', () => {
    for (const ok of ['30s', '10m', '1h', '30d', '2w', '1mo', '1y', '1000y']) expect(Duration.safeParse(ok).success).toBe(true);
    for (const bad of ['1001y', '9999999999999d', '1e3d', '-1d', '10x', '']) expect(Duration.safeParse(bad).success).toBe(false);
  });
});
