import { Injectable } from '@nestjs/common';
import type { Principal } from '#libs/contracts';
import type { PreparedCatalog } from './catalog.service.js';
import { buildAccessView, masterDecision, principalFingerprint, type AccessView, type ServerPredicate } from './access.js';

/** Decides, per caller, which servers and tools of the catalog are usable; memoized per catalog version. */
@Injectable()
export class AccessService {
  view(catalog: PreparedCatalog, principal: Principal, narrowing: ReadonlySet<string> | null): AccessView {
    const base = principalFingerprint(principal);
    const fingerprint = narrowing ? `${base}|${[...narrowing].sort().join(',')}` : base;
    return catalog.memoize(`access:${fingerprint}`, () => {
      const decide = this.decisionFor(principal);
      const narrowed: ServerPredicate = narrowing
        ? (server) => (narrowing.has(server.server_name) || narrowing.has(server.server_id) ? decide(server) : { allowed: false })
        : decide;
      return buildAccessView(catalog.catalog.servers, narrowed, fingerprint);
    });
  }

  private decisionFor(principal: Principal): ServerPredicate {
    if (principal.kind === 'master') return masterDecision();
    // Virtual keys: until key/team/org permissions are evaluated, only servers open to every key.
    return (server) => ({ allowed: server.allow_all_keys });
  }
}
