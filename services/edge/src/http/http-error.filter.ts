import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { toHttpError } from './http-problem.js';

/** Every REST error leaves the edge in one shape: `{error: {message, type, code, details?}}`. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      res.end();
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      res.status(status).json({ error: { message: exception.message, type: 'invalid_request_error', code: String(status) } });
      return;
    }
    const { status, headers, body } = toHttpError(exception);
    res.status(status).set(headers).json(body);
  }
}
