import { Inject, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { DomainError, type Principal } from '#libs/contracts';
import { PrincipalService } from './principal.service.js';

const ADMIN_ONLY = 'switchboard:admin-only';
/** Management endpoints: the master key or a key with the admin role. */
export const AdminOnly = () => SetMetadata(ADMIN_ONLY, true);

export type AuthenticatedRequest = Request & { principal: Principal };

/** Every REST route needs a valid key; @AdminOnly() routes need an admin one. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    @Inject(PrincipalService) private readonly principals: PrincipalService,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    req.principal = await this.principals.authenticate(req.headers);
    const adminOnly = this.reflector.getAllAndOverride<boolean>(ADMIN_ONLY, [context.getHandler(), context.getClass()]);
    if (adminOnly && !req.principal.is_admin) throw new DomainError('PERMISSION_DENIED', 'this endpoint needs the master key or an admin key');
    return true;
  }
}
