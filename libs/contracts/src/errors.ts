import { z } from 'zod';
import { unreachableBackend, unstorableValue } from './infrastructure-errors.js';

/** The one error vocabulary across the bus. Only the edge maps these to HTTP or JSON-RPC. */
export const ErrorCode = z.enum([
  'INVALID_ARGUMENT',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'NOT_FOUND',
  'CONFLICT',
  'RATE_LIMITED',
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_TIMEOUT',
  'BUS_TIMEOUT',
  'INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorEnvelope = z.object({
  code: ErrorCode,
  message: z.string(),
  retryable: z.boolean(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ErrorEnvelope = z.infer<typeof ErrorEnvelope>;

const RETRYABLE: ReadonlySet<ErrorCode> = new Set(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'BUS_TIMEOUT', 'RATE_LIMITED']);

/** Thrown by domain code anywhere; crosses the bus as an ErrorEnvelope and is re-thrown on the caller's side. */
export class DomainError extends Error {
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    retryable?: boolean,
  ) {
    super(message);
    this.name = 'DomainError';
    this.retryable = retryable ?? RETRYABLE.has(code);
  }

  toEnvelope(): ErrorEnvelope {
    return { code: this.code, message: this.message, retryable: this.retryable, ...(this.details ? { details: this.details } : {}) };
  }

  static fromEnvelope(envelope: ErrorEnvelope): DomainError {
    return new DomainError(envelope.code, envelope.message, envelope.details, envelope.retryable);
  }

  static is(error: unknown, code?: ErrorCode): error is DomainError {
    return error instanceof DomainError && (code === undefined || error.code === code);
  }
}

/** Turns anything thrown into an envelope; unknown errors keep their message but never a stack. */
export function toErrorEnvelope(error: unknown): ErrorEnvelope {
  if (error instanceof DomainError) return error.toEnvelope();
  if (error instanceof z.ZodError) {
    return {
      code: 'INVALID_ARGUMENT',
      message: formatZodIssues(error.issues),
      retryable: false,
      details: { issues: error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    };
  }
  const unstorable = unstorableValue(error);
  if (unstorable) return { code: 'INVALID_ARGUMENT', message: `${unstorable.message} (the database refused the value)`, retryable: false, details: { sqlstate: unstorable.sqlstate } };
  const unreachable = unreachableBackend(error);
  if (unreachable) return { code: 'UPSTREAM_UNAVAILABLE', message: `a service it depends on is unreachable (${unreachable}); retry shortly`, retryable: true, details: { backend: 'unreachable' } };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'INTERNAL', message, retryable: false };
}

/** `a.b.c: message` lines, one per problem: the form every validation error takes in Switchboard. */
export function formatZodIssues(issues: readonly z.core.$ZodIssue[], root = ''): string {
  return issues
    .map((issue) => {
      const path = [root, ...issue.path.map(String)].filter(Boolean).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('\n');
}
