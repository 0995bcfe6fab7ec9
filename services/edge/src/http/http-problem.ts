import { z } from 'zod';
import { DomainError, toErrorEnvelope, type ErrorCode } from '#libs/contracts';

/** An HTTP answer decided before any domain logic ran (bad body, bad origin, missing session...). */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** When set, the body is a JSON-RPC error with this code instead of the REST error shape. */
    readonly jsonRpcCode?: number,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpProblem';
  }
}

export const HTTP_STATUS_BY_CODE: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  UPSTREAM_UNAVAILABLE: 503,
  UPSTREAM_TIMEOUT: 504,
  BUS_TIMEOUT: 504,
  INTERNAL: 500,
};

export const WWW_AUTHENTICATE = 'Bearer realm="switchboard", error="invalid_token"';

/** The HTTP status, headers and LiteLLM-shaped body for anything thrown in a REST handler. */
export function toHttpError(error: unknown): { status: number; headers: Record<string, string>; body: unknown } {
  if (error instanceof z.ZodError) {
    const envelope = toErrorEnvelope(error);
    error = new DomainError(envelope.code, envelope.message, envelope.details);
  }
  if (error instanceof HttpProblem) {
    return { status: error.status, headers: error.headers, body: { error: { message: error.message, type: 'invalid_request_error', code: String(error.status) } } };
  }
  if (error instanceof DomainError) {
    const status = HTTP_STATUS_BY_CODE[error.code];
    const headers: Record<string, string> = {};
    if (error.code === 'UNAUTHENTICATED') headers['WWW-Authenticate'] = WWW_AUTHENTICATE;
    const retryAfter = error.details?.retry_after_seconds;
    if (typeof retryAfter === 'number') headers['Retry-After'] = String(Math.ceil(retryAfter));
    return {
      status,
      headers,
      body: { error: { message: error.message, type: error.code.toLowerCase(), code: String(status), ...(error.details ? { details: error.details } : {}) } },
    };
  }
  return { status: 500, headers: {}, body: { error: { message: 'internal error', type: 'internal', code: '500' } } };
}
