import { Catch } from '@nestjs/common';
import { DomainError, type ErrorCode } from '#libs/contracts';
import { JsonErrorFilter, type ErrorResponse } from '../http/http-error.filter.js';
import { toHttpError } from '../http/http-problem.js';

const TYPE_BY_CODE: Partial<Record<ErrorCode, string>> = {
  INVALID_ARGUMENT: 'invalid_request_error',
  UNAUTHENTICATED: 'authentication_error',
  PERMISSION_DENIED: 'permission_error',
  NOT_FOUND: 'invalid_request_error',
  RATE_LIMITED: 'rate_limit_error',
};

export interface OpenAiError {
  status: number;
  headers: Record<string, string>;
  body: { error: { message: string; type: string; param: string | null; code: string | null } };
}

/**
 * The error of an LLM route as OpenAI shapes it, `{error: {message, type, param, code}}`, so the `openai` client
 * raises its usual errors. A provider's status (DomainError `details.http_status`) is kept.
 */
export function toOpenAiError(error: unknown): OpenAiError {
  const { status, headers, body } = toHttpError(error);
  const message = (body as { error: { message: string } }).error.message;
  if (!(error instanceof DomainError)) {
    return { status, headers, body: { error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: null } } };
  }
  const details = error.details ?? {};
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  return {
    status: typeof details.http_status === 'number' ? details.http_status : status,
    headers,
    body: {
      error: {
        message: error.message,
        type: text(details.type) ?? TYPE_BY_CODE[error.code] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
        param: text(details.param),
        code: text(details.code) ?? (error.code === 'UNAUTHENTICATED' ? 'invalid_api_key' : error.code === 'RATE_LIMITED' ? 'rate_limit_exceeded' : null),
      },
    },
  };
}

/** LLM routes answer errors in OpenAI's shape (the rest of the REST API keeps LiteLLM's management shape). */
@Catch()
export class OpenAiErrorFilter extends JsonErrorFilter {
  protected toResponse(exception: unknown): ErrorResponse {
    return toOpenAiError(exception);
  }

  protected fromHttpException(_status: number, message: string): unknown {
    return { error: { message, type: 'invalid_request_error', param: null, code: null } };
  }
}
