import type { z } from 'zod';

/** Start-up stops with one line per problem, each naming the key path and what was expected. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

/** Zod's issues in the words a person editing a YAML file needs. */
export function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const received = issue.path.reduce<unknown>((node, key) => (node as Record<PropertyKey, unknown> | undefined)?.[key], input);
  switch (issue.code) {
    case 'invalid_value':
      return `expected one of ${issue.values.map(String).join(' | ')}, got ${describe(received)}`;
    case 'invalid_type':
      return received === undefined ? `required (expected ${issue.expected})` : `expected ${issue.expected}, got ${describe(received)}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    default:
      return issue.message;
  }
}

export function issuesToProblems(issues: readonly z.core.$ZodIssue[], input: unknown, root = ''): string[] {
  return issues.map((issue) => {
    const path = [root, ...issue.path.map(String)].filter(Boolean).join('.');
    const text = describeIssue(issue, input);
    return path ? `${path}: ${text}` : text;
  });
}

/** Parses with `schema` or throws a ConfigError listing every problem. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, root = ''): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(issuesToProblems(result.error.issues, input, root));
}
