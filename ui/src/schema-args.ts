import type { JsonSchema } from './api';

// How a tool's JSON Schema becomes form inputs, and the typed values become its arguments.

export type Kind = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'json';

export function kindOf(schema: JsonSchema): Kind {
  if (Array.isArray(schema.enum) && schema.enum.every((v) => typeof v === 'string' || typeof v === 'number')) return 'enum';
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  if (type === 'string' || type === 'number' || type === 'integer' || type === 'boolean') return type;
  return 'json';
}

export function initial(schema: JsonSchema): string {
  if (schema.default === undefined) return '';
  return kindOf(schema) === 'json' ? JSON.stringify(schema.default, null, 2) : String(schema.default);
}

/** The arguments object from the typed values (optional ones left empty are left out). */
export function argumentsOf(schema: JsonSchema, values: Record<string, string>): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  const required = new Set(schema.required ?? []);
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const raw = values[name] ?? '';
    const kind = kindOf(property);
    if (kind === 'boolean') {
      if (raw === 'true') args[name] = true;
      else if (required.has(name) || raw === 'false') args[name] = false;
      continue;
    }
    if (raw === '' && !required.has(name)) continue;
    // What is not a number (or not JSON) goes as typed: the tool's own validation answers, and that answer is shown.
    if (kind === 'number' || kind === 'integer') {
      const n = Number(raw);
      args[name] = raw.trim() !== '' && Number.isFinite(n) ? n : raw;
    } else if (kind === 'enum') {
      const option = property.enum!.find((v) => String(v) === raw);
      args[name] = option ?? raw;
    } else if (kind === 'json') {
      try {
        args[name] = JSON.parse(raw);
      } catch {
        args[name] = raw;
      }
    } else {
      args[name] = raw;
    }
  }
  return args;
}

