import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { toErrorEnvelope, type ErrorCode, type ErrorEnvelope } from '#libs/contracts';

/** The bus's error codes as gRPC status codes (the edge's other mappings: HTTP statuses and JSON-RPC errors). */
const STATUS: Record<ErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  NOT_FOUND: status.NOT_FOUND,
  CONFLICT: status.ALREADY_EXISTS,
  RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  UPSTREAM_UNAVAILABLE: status.UNAVAILABLE,
  UPSTREAM_TIMEOUT: status.DEADLINE_EXCEEDED,
  BUS_TIMEOUT: status.DEADLINE_EXCEEDED,
  INTERNAL: status.INTERNAL,
};

/** The field an INVALID_ARGUMENT is about: `details.field`, the first issue's path, or the message's `field:` prefix. */
export function fieldOf(envelope: ErrorEnvelope): string | undefined {
  const details = envelope.details ?? {};
  if (typeof details.field === 'string') return details.field;
  const issues = details.issues as { path?: string }[] | undefined;
  if (Array.isArray(issues) && issues[0]?.path) return issues[0].path;
  return /^([A-Za-z_][\w.]*): /.exec(envelope.message)?.[1];
}

/**
 * Anything thrown → a gRPC error: the status from the envelope's code (a CONFLICT that says the entity still holds
 * others, `key_count` / `team_count`, is FAILED_PRECONDITION rather than ALREADY_EXISTS), the envelope's message, and
 * trailers `sb-error-code`, `sb-retryable` and, for INVALID_ARGUMENT, `sb-field`.
 */
export function toGrpcError(error: unknown): Partial<ServiceError> {
  const envelope = toErrorEnvelope(error);
  let code = STATUS[envelope.code] ?? status.INTERNAL;
  if (envelope.code === 'CONFLICT' && (envelope.details?.key_count !== undefined || envelope.details?.team_count !== undefined)) code = status.FAILED_PRECONDITION;
  const metadata = new Metadata();
  metadata.set('sb-error-code', envelope.code);
  metadata.set('sb-retryable', String(envelope.retryable));
  const field = envelope.code === 'INVALID_ARGUMENT' ? fieldOf(envelope) : undefined;
  if (field) metadata.set('sb-field', field);
  return { code, details: envelope.message, message: envelope.message, metadata };
}
