import { z } from 'zod';

const UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** A duration as LiteLLM writes them (`30d`, `12h`, `90m`, `45s`, `2w`), parsed to milliseconds. */
export const Duration = z
  .string()
  .regex(/^\d+(\.\d+)?\s*[smhdw]$/, 'expected a duration such as 30d, 12h, 90m or 45s')
  .transform((text) => Math.round(Number(text.slice(0, -1).trim()) * UNITS_MS[text.slice(-1) as keyof typeof UNITS_MS]))
  .refine((ms) => ms > 0, 'expected a duration above zero');
