import { createHash } from 'node:crypto';

/** OpenAI function names allow at most 64 characters of [a-zA-Z0-9_-]; MCP clients cope with the same. */
export const MAX_TOOL_NAME_LENGTH = 64;
const HASH_LENGTH = 8;

function sanitize(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_');
}

function shortHash(origin: string): string {
  return createHash('sha256').update(origin).digest('hex').slice(0, HASH_LENGTH);
}

/**
 * Names every provider accepts as function names (at most 64 characters of [A-Za-z0-9_-]), deterministic whatever
 * the order of the input: a name that is too long, or that collides after sanitizing, is cut and given a hash of
 * its `origin` (which must differ between entries).
 */
export function functionSafeNames(entries: readonly { name: string; origin: string }[]): string[] {
  const plain = entries.map((e) => sanitize(e.name));
  const counts = new Map<string, number>();
  for (const name of plain) counts.set(name, (counts.get(name) ?? 0) + 1);
  return entries.map((entry, i) => {
    const name = plain[i]!;
    if (name.length > 0 && name.length <= MAX_TOOL_NAME_LENGTH && counts.get(name) === 1) return name;
    return `${name.slice(0, MAX_TOOL_NAME_LENGTH - HASH_LENGTH - 1)}_${shortHash(entry.origin)}`;
  });
}

/**
 * Aggregate names `{server}-{tool}` for a whole catalog (server names are already [a-z0-9_]), deterministic
 * whatever the order of the input.
 */
export function aggregateToolNames(entries: readonly { server: string; tool: string }[]): string[] {
  return functionSafeNames(entries.map((e) => ({ name: `${e.server}-${e.tool}`, origin: `${e.server}\u0000${e.tool}` })));
}
