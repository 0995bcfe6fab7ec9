import { Controller, Delete, Get, Inject, Param, Query, Req, UseGuards } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { DomainError, ListUpstreamGrants, RevokeUpstreamGrant } from '#libs/contracts';
import { ApiKeyGuard, type AuthenticatedRequest } from '../auth/api-key.guard.js';
import { serverName } from './upstream-oauth.controller.js';
import { UpstreamUsers } from './upstream-users.js';

const CALL_TIMEOUT_MS = 30_000;

/**
 * A user's grants on per-user OAuth servers (SPEC section 3): `GET /v1/mcp/oauth/grants` lists them (never a token),
 * `DELETE /v1/mcp/oauth/{server}/grant` withdraws one (`?client_id=`: only that client's approval). The user is the
 * caller's (a key's `user_id`, or the key itself); an admin key may name another with `?user_id=`.
 */
@Controller('v1/mcp/oauth')
@UseGuards(ApiKeyGuard)
export class UpstreamGrantsController {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(UpstreamUsers) private readonly users: UpstreamUsers,
  ) {}

  @Get('grants')
  grants(@Req() req: AuthenticatedRequest, @Query('user_id') userId?: unknown) {
    return this.bus.call(ListUpstreamGrants, { user_id: this.userOf(req, userId) }, { timeoutMs: CALL_TIMEOUT_MS });
  }

  @Delete(':server/grant')
  revoke(@Req() req: AuthenticatedRequest, @Param('server') server: string, @Query('user_id') userId?: unknown, @Query('client_id') clientId?: unknown) {
    if (clientId !== undefined && (typeof clientId !== 'string' || clientId === '')) throw new DomainError('INVALID_ARGUMENT', 'client_id: one non-empty value', { field: 'client_id' });
    const request = { server: serverName(server), user_id: this.userOf(req, userId), ...(clientId ? { client_id: clientId } : {}) };
    return this.bus.call(RevokeUpstreamGrant, request, { timeoutMs: CALL_TIMEOUT_MS });
  }

  /** The caller's own user, or (admin keys only) the one named. */
  private userOf(req: AuthenticatedRequest, named: unknown): string {
    const own = this.users.of(req.principal, req.headers)!.user_id;
    if (named === undefined || named === own) return own;
    if (typeof named !== 'string' || named === '' || named.length > 256) throw new DomainError('INVALID_ARGUMENT', 'user_id: one user id of at most 256 characters', { field: 'user_id' });
    if (!req.principal.is_admin) throw new DomainError('PERMISSION_DENIED', "only the master key or an admin key may name another user's grants");
    return named;
  }
}
