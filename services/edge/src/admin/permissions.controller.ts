import { Controller, Get, Inject, Query, UseGuards } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { DomainError, VerifyKey } from '#libs/contracts';
import { explainAccess } from '#libs/permissions';
import { AdminOnly, ApiKeyGuard } from '../auth/api-key.guard.js';
import { AccessService } from '../catalog/access.service.js';
import { CatalogService } from '../catalog/catalog.service.js';

/**
 * GET /v1/mcp/permissions?key=: a key's effective servers and tools, and for every server or tool it cannot use,
 * which level (key, team, organization, the server itself, or no level set) removed it.
 */
@Controller('v1/mcp')
@UseGuards(ApiKeyGuard)
@AdminOnly()
export class PermissionsController {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(CatalogService) private readonly catalogs: CatalogService,
    @Inject(AccessService) private readonly access: AccessService,
  ) {}

  @Get('permissions')
  async explain(@Query('key') key?: string) {
    if (!key) throw new DomainError('INVALID_ARGUMENT', 'key: required (the virtual key to explain)', { field: 'key' });
    const principal = await this.bus.call(VerifyKey, { key }, { timeoutMs: 5_000 });
    const catalog = await this.catalogs.current();
    return {
      key: { key_alias: principal.key_alias, key_name: principal.key_name ?? null, team_id: principal.team_id, organization_id: principal.organization_id },
      levels: principal.levels,
      ...explainAccess(this.access.effective(catalog, principal)),
    };
  }
}
