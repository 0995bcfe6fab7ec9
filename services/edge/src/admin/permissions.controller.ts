import { Controller, Get, Inject, Query, UseGuards } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { DomainError, VerifyKey } from '#libs/contracts';
import { explainAccess } from '#libs/permissions';
import { AdminOnly, ApiKeyGuard } from '../auth/api-key.guard.js';
import { AccessService } from '../catalog/access.service.js';
import { CatalogService } from '../catalog/catalog.service.js';
import { ProtectedResource } from '../oauth/protected-resource.js';

/** The first few characters of a key, enough to recognise it and never the whole of it (nor half of a short one). */
export function keyPrefix(key: string): string {
  return `${key.slice(0, Math.min(6, Math.floor(key.length / 2)))}…`;
}

/**
 * VerifyKey refused the key being asked about, not the caller's own credentials (those got 401 before): an
 * unknown key is 404, a blocked or expired one 400, each naming only the key's prefix.
 */
export function aboutTheKeyAsked(error: DomainError, key: string): DomainError {
  const prefix = keyPrefix(key);
  const reason = error.details?.reason;
  if (reason === 'unknown_key') return new DomainError('NOT_FOUND', `key: no key matches ${prefix}`, { field: 'key', key_prefix: prefix });
  return new DomainError('INVALID_ARGUMENT', `key ${prefix}: ${error.message}`, { field: 'key', key_prefix: prefix, reason });
}

/**
 * GET /v1/mcp/permissions?key=: a key's effective servers and tools, and for every server or tool it cannot use,
 * which level (key, team, organization, the server itself, or no level set) removed it.
 * GET /v1/mcp/permissions?token=[&resource=]: the same for an OAuth access token, with its mapping (which issuer,
 * which claims, which team and organization).
 */
@Controller('v1/mcp')
@UseGuards(ApiKeyGuard)
@AdminOnly()
export class PermissionsController {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(CatalogService) private readonly catalogs: CatalogService,
    @Inject(AccessService) private readonly access: AccessService,
    @Inject(ProtectedResource) private readonly resource: ProtectedResource,
  ) {}

  @Get('permissions')
  async explain(@Query('key') key?: string, @Query('token') token?: string, @Query('resource') resource?: string) {
    if (token) {
      const { token: mapping, principal } = await this.resource.explain(token, resource);
      const catalog = await this.catalogs.current();
      return {
        token: { ...mapping, team_id: principal.team_id, organization_id: principal.organization_id },
        levels: principal.levels,
        ...explainAccess(this.access.effective(catalog, principal)),
      };
    }
    if (!key) throw new DomainError('INVALID_ARGUMENT', 'key: required (the virtual key to explain), or token (an OAuth access token)', { field: 'key' });
    const principal = await this.bus.call(VerifyKey, { key, by_reference: true }, { timeoutMs: 5_000 }).catch((error: unknown) => {
      throw DomainError.is(error, 'UNAUTHENTICATED') ? aboutTheKeyAsked(error, key) : error;
    });
    const catalog = await this.catalogs.current();
    return {
      key: { key_alias: principal.key_alias, key_name: principal.key_name ?? null, team_id: principal.team_id, organization_id: principal.organization_id },
      levels: principal.levels,
      ...explainAccess(this.access.effective(catalog, principal)),
    };
  }
}
