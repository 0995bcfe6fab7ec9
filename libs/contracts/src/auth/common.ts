import { z } from 'zod';

/** An id of a team or an organization: generated (uuid) when not given; any 1–128 printable characters. */
export const EntityId = z
  .string()
  .min(1, 'expected a non-empty id')
  .max(128, 'expected at most 128 characters')
  .regex(/^[^\s]+$/, 'expected no whitespace');

/** An alias (key_alias, team_alias, organization_alias): unique when set. */
export const Alias = z.string().min(1, 'expected a non-empty alias').max(256, 'expected at most 256 characters');

/**
 * LiteLLM's durations: a number and a unit, `30s`, `10m`, `1h`, `30d`, `2w`, `1mo` (30 days), `1y` (365 days).
 * `null` = never expires.
 */
export const DURATION_PATTERN = /^(\d+)(s|m|h|d|w|mo|y)$/;
/** The longest duration taken (a date further away is not a date Postgres or JavaScript keeps). */
export const MAX_DURATION_SECONDS = 1_000 * 365 * 86_400;
export const Duration = z
  .string()
  .regex(DURATION_PATTERN, 'expected a duration like "30s", "10m", "1h", "30d", "2w", "1mo" or "1y"')
  .refine((duration) => {
    const match = DURATION_PATTERN.exec(duration);
    return !match || Number(match[1]) * UNIT_SECONDS[match[2]!]! <= MAX_DURATION_SECONDS; // a malformed one is the regex's to report
  }, 'expected at most 1000 years');

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 7 * 86_400, mo: 30 * 86_400, y: 365 * 86_400 };

/** Seconds in a Duration string; throws on a malformed one (parse with `Duration` first). */
export function durationToSeconds(duration: string): number {
  const match = DURATION_PATTERN.exec(duration);
  if (!match) throw new Error(`malformed duration "${duration}"`);
  return Number(match[1]) * UNIT_SECONDS[match[2]!]!;
}

export const Metadata = z.record(z.string(), z.unknown());

/** LiteLLM's `models` of a key or team: the model_names it may use on /v1 (empty = every model). */
export const ModelNames = z.array(z.string().min(1, 'expected a model name').max(256)).max(1000);

/** Requests per minute; null = unlimited, 0 = every request refused. */
export const RpmLimit = z.number().int('expected an integer').min(0, 'expected 0 or more');
/** Calls in flight at once across replicas; null = unlimited. */
export const ParallelLimit = z.number().int('expected an integer').min(1, 'expected 1 or more');

/** ISO-8601 timestamp strings on the wire. */
export const Timestamp = z.string();
