import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { toHttpError } from './http-problem.js';

/** An error as one response: its status, headers and JSON body. */
export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/**
 * Writes whatever a route threw as one JSON error: Nest's own HttpExceptions (bad routes, bad methods) through
 * `fromHttpException`, anything else through `toResponse`. Subclasses choose the shape.
 */
export abstract class JsonErrorFilter implements ExceptionFilter {
  protected abstract toResponse(exception: unknown): ErrorResponse;
  protected abstract fromHttpException(status: number, message: string): unknown;

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      res.end();
      return;
    }
    if (exception instanceof HttpException) {
      res.status(exception.getStatus()).json(this.fromHttpException(exception.getStatus(), exception.message));
      return;
    }
    const { status, headers, body } = this.toResponse(exception);
    res.status(status).set(headers).json(body);
  }
}

/** Every REST error leaves the edge in one shape: `{error: {message, type, code, details?}}`. */
@Catch()
export class HttpErrorFilter extends JsonErrorFilter {
  protected toResponse(exception: unknown): ErrorResponse {
    return toHttpError(exception);
  }

  protected fromHttpException(status: number, message: string): unknown {
    return { error: { message, type: 'invalid_request_error', code: String(status) } };
  }
}
