import { Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import type { Principal } from '#libs/contracts';
import { effectiveAccess, levelsFingerprint, narrowByHeader, type EffectiveAccess } from '#libs/permissions';
import type { PreparedCatalog } from './catalog.service.js';
import { buildAccessView, type AccessView } from './access.js';

/**
 * Applies SPEC section 4's rules (libs/permissions) to the catalog for one caller. The result depends only on
 * the catalog version, the principal's permission levels and `x-mcp-servers`, so it is computed once per
 * combination and reused by every request: the hot path does a map lookup, no NATS hop.
 */
@Injectable()
export class AccessService {
  view(catalog: PreparedCatalog, principal: Principal, headers: IncomingHttpHeaders): AccessView {
    const narrowing = headers['x-mcp-servers'];
    const isMaster = principal.kind === 'master';
    const memoKey = `access:${levelsFingerprint(principal.levels, isMaster)}:${narrowing ?? ''}`;
    return catalog.memoize(memoKey, () => buildAccessView(catalog.catalog.servers, narrowByHeader(this.effective(catalog, principal), narrowing)));
  }

  /** Every server of the catalog with the caller's decision and its reasons (for /v1/mcp/permissions). */
  effective(catalog: PreparedCatalog, principal: Principal): EffectiveAccess {
    const isMaster = principal.kind === 'master';
    return catalog.memoize(`effective:${levelsFingerprint(principal.levels, isMaster)}`, () =>
      effectiveAccess({
        levels: principal.levels,
        isMaster,
        servers: catalog.catalog.servers.map((s) => ({ ...s, tools: s.tools.map((t) => t.name) })),
      }),
    );
  }
}
