import { Inject, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { DomainError, type Principal } from '#libs/contracts';
import { PrincipalService } from './principal.service.js';
import { UsageLimiter } from './usage-limiter.js';

const ADMIN_ONLY = 'switchboard:admin-only';
/** Management endpoints: the master key or a key with the admin role. */
export const AdminOnly = () => SetMetadata(ADMIN_ONLY, true);

export type AuthenticatedRequest = Request & { principal: Principal };

/**
 * The REST paths whose every authenticated request counts once against rpm_limit (SPEC section 4): `/v1/*`, the
 * unversioned OpenAI aliases (`/chat/completions`, `/responses`, `/models`) and `/mcp-rest/*`. The management API
 * (`/key`, `/team`, `/organization`) and `/spend` are not counted. (The MCP endpoints count in their transports.)
 */
export function countsAgainstRateLimit(path: string): boolean {
  return /^\/(v1|mcp-rest|chat\/completions|responses|models)(\/|$)/.test(path);
}

/** Every REST route needs a valid key; @AdminOnly() routes need an admin one. Requests to counted paths are counted. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    @Inject(PrincipalService) private readonly principals: PrincipalService,
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(UsageLimiter) private readonly limits: UsageLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    req.principal = await this.principals.authenticate(req.headers);
    if (countsAgainstRateLimit(req.path)) await this.limits.countRequest(req.principal);
    const adminOnly = this.reflector.getAllAndOverride<boolean>(ADMIN_ONLY, [context.getHandler(), context.getClass()]);
    if (adminOnly && !req.principal.is_admin) throw new DomainError('PERMISSION_DENIED', 'this endpoint needs the master key or an admin key');
    return true;
  }
}
