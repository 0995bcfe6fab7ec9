import { Inject, Injectable } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { DomainError, VerifyKey, type ExplainPermissionsRequest, type PermissionsExplanation, type Principal } from '#libs/contracts';
import { explainAccess } from '#libs/permissions';
import type { z } from 'zod';
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
 * A key's or an access token's effective servers and tools, and for every server or tool it cannot use, which level
 * (key, team, organization, the server itself, or no level set) removed it: GET /v1/mcp/permissions and the admin
 * clients' ExplainPermissions alike.
 */
@Injectable()
export class PermissionExplainer {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(CatalogService) private readonly catalogs: CatalogService,
    @Inject(AccessService) private readonly access: AccessService,
    @Inject(ProtectedResource) private readonly resource: ProtectedResource,
  ) {}

  async explain(request: z.output<typeof ExplainPermissionsRequest>): Promise<PermissionsExplanation> {
    if (request.token) {
      const { token: mapping, principal } = await this.resource.explain(request.token, request.resource);
      return { token: { ...mapping, team_id: principal.team_id, organization_id: principal.organization_id }, ...(await this.accessOf(principal)) };
    }
    const key = request.key!;
    const principal = await this.bus.call(VerifyKey, { key, by_reference: true }, { timeoutMs: 5_000 }).catch((error: unknown) => {
      throw DomainError.is(error, 'UNAUTHENTICATED') ? aboutTheKeyAsked(error, key) : error;
    });
    const asked = { key_alias: principal.key_alias, key_name: principal.key_name ?? null, team_id: principal.team_id, organization_id: principal.organization_id };
    return { key: asked, ...(await this.accessOf(principal)) };
  }

  /** The principal's levels, and what they leave of the current catalog. */
  private async accessOf(principal: Principal): Promise<Omit<PermissionsExplanation, 'key' | 'token'>> {
    const catalog = await this.catalogs.current();
    return { levels: principal.levels, ...explainAccess(this.access.effective(catalog, principal)) };
  }
}
