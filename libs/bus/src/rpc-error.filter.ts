import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';
import { toErrorEnvelope, type ErrorEnvelope } from '#libs/contracts';

/**
 * Nest's default filter erases unknown errors to "Internal server error". This one turns anything a handler
 * throws into our envelope, so a DomainError reaches the caller with its code and details.
 */
@Catch()
export class RpcErrorFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<ErrorEnvelope> {
    return throwError(() => toErrorEnvelope(exception));
  }
}
