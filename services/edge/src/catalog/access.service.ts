import { Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import type { CatalogServer, Principal } from '#libs/contracts';
import { accessServersFromCatalog, levelsFingerprint, narrowByHeader, principalAccess, type EffectiveAccess } from '#libs/permissions';
import type { PreparedCatalog } from './catalog.service.js';
import { buildAccessView, type AccessView } from './access.js';

function withCapabilityTools(server: CatalogServer): CatalogServer {
  const extra = Object.values(server.capability_tools ?? {}).flat();
  if (extra.length === 0) return server;
  const names = new Set(server.tools.map((t) => t.name));
  return { ...server, tools: [...server.tools, ...extra.filter((t) => !names.has(t.name) && names.add(t.name))] };
}

/**
 * Applies SPEC section 4's rules (libs/permissions) to the catalog for one caller. The result depends only on
 * the catalog version, the principal's permission levels and `x-mcp-servers`, so it is computed once per
 * combination and reused by every request: the hot path does a map lookup, no NATS hop.
 */
@Injectable()
export class AccessService {
  /** Principals are cached objects (PrincipalService), so their fingerprint is computed once each. */
  private readonly fingerprints = new WeakMap<Principal, string>();

  view(catalog: PreparedCatalog, principal: Principal, headers: IncomingHttpHeaders): AccessView {
    const narrowing = headers['x-mcp-servers'];
    const memoKey = `access:${this.fingerprint(principal)}:${narrowing ?? ''}`;
    return catalog.memoize(memoKey, () => buildAccessView(catalog.catalog.servers, narrowByHeader(this.effective(catalog, principal), narrowing)));
  }

  /** Every server of the catalog with the caller's decision and its reasons (for /v1/mcp/permissions). */
  effective(catalog: PreparedCatalog, principal: Principal): EffectiveAccess {
    return catalog.memoize(`effective:${this.fingerprint(principal)}`, () =>
      // tool permissions cover every tool of a server, those listed only for a declared capability included
      principalAccess(principal, catalog.memoize('access-servers', () => accessServersFromCatalog(catalog.catalog.servers.map(withCapabilityTools)))),
    );
  }

  private fingerprint(principal: Principal): string {
    let fingerprint = this.fingerprints.get(principal);
    if (fingerprint === undefined) {
      fingerprint = levelsFingerprint(principal.levels, principal.kind === 'master');
      this.fingerprints.set(principal, fingerprint);
    }
    return fingerprint;
  }
}
