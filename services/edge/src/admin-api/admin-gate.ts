import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type Principal } from '#libs/contracts';
import { PrincipalService } from '../auth/principal.service.js';

/**
 * The admin API's credential check outside HTTP (NATS and gRPC), the same as ApiKeyGuard + @AdminOnly() on REST:
 * the master key or a key with `is_admin`, verified by auth (through the edge's key cache, invalidated by events).
 */
@Injectable()
export class AdminGate {
  constructor(@Inject(PrincipalService) private readonly principals: PrincipalService) {}

  /** `authorization` is "Bearer <key>" or the key alone; throws UNAUTHENTICATED or PERMISSION_DENIED. */
  async admit(authorization: string | undefined): Promise<Principal> {
    const principal = await this.principals.authenticate(authorization ? { authorization } : {});
    if (!principal.is_admin) throw new DomainError('PERMISSION_DENIED', 'the admin API needs the master key or an admin key');
    return principal;
  }
}
