import { describe, expect, it } from 'vitest';
import { Duration } from './duration.js';

describe('Duration', () => {
  it('reads LiteLLM-style durations as milliseconds', () => {
    expect(Duration.parse('30d')).toBe(30 * 86_400_000);
    expect(Duration.parse('12h')).toBe(12 * 3_600_000);
    expect(Duration.parse('90m')).toBe(90 * 60_000);
    expect(Duration.parse('1.5s')).toBe(1500);
    expect(Duration.parse('2w')).toBe(14 * 86_400_000);
  });

  it('refuses anything else with a message saying what is expected', () => {
    for (const bad of ['30', 'd', '30 days', '-1d', '0d', '']) expect(Duration.safeParse(bad).success, bad).toBe(false);
    expect(Duration.safeParse('30 days').error?.issues[0]?.message).toMatch(/30d, 12h, 90m or 45s/);
  });
});
