import type { z } from 'zod';
import { DomainError } from '#libs/contracts';

/** `messages[0].role`: how OpenAI names a field in `param`. */
export function paramOf(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');
}

/** A 400 in OpenAI's shape: the message starts with the field, `param` names it. */
export function invalidRequest(param: string, message: string, code: string | null = null): DomainError {
  return new DomainError('INVALID_ARGUMENT', `${param}: ${message}`, { param, code, type: 'invalid_request_error' });
}

/** Parses `value` or throws the 400 of its first problem. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, root = ''): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const param = paramOf([...(root ? [root] : []), ...issue.path]) || 'body';
  throw invalidRequest(param, issue.message);
}
