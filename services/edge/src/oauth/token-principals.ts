import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { DomainError, KeysChanged, ResolveTokenPrincipal, TeamsChanged, type Principal } from '#libs/contracts';
import { Metrics } from '#libs/observability';
import type { TokenIdentity } from './claim-mapping.js';

const POSITIVE_TTL_MS = 60_000;
const NEGATIVE_TTL_MS = 2_000;
const MAX_ENTRIES = 50_000;

type Entry = { principal: Principal; until: number } | { error: DomainError; until: number };

const ref = (r: TokenIdentity['team']) => (r ? `${r.by}:${r.value}` : '-');

/**
 * The Principal of a token's (issuer, user, team, organization), built by auth from the stored team and
 * organization and cached here like keys are: TeamsChanged (any team or organization update or delete) drops the
 * entries built from them on every replica; a reconnect drops everything.
 */
@Injectable()
export class TokenPrincipals implements OnModuleInit, OnModuleDestroy {
  private readonly cache = new Map<string, Entry>();
  private readonly unsubscribe: (() => void)[] = [];

  constructor(@Inject(Bus) private readonly bus: Bus) {}

  onModuleInit(): void {
    this.unsubscribe.push(
      this.bus.subscribe(TeamsChanged, ({ team_ids, organization_ids }) => {
        const teams = new Set(team_ids);
        const orgs = new Set(organization_ids);
        for (const [key, entry] of this.cache) {
          if (!('principal' in entry)) continue;
          if ((entry.principal.team_id && teams.has(entry.principal.team_id)) || (entry.principal.organization_id && orgs.has(entry.principal.organization_id))) {
            this.cache.delete(key);
          }
        }
      }),
      // a team's change also reaches its keys' holders; cheap to honour for tokens too
      this.bus.subscribe(KeysChanged, ({ reason }) => {
        if (reason === 'team' || reason === 'organization') this.cache.clear();
      }),
    );
    this.bus.onReconnect(() => this.cache.clear());
  }

  onModuleDestroy(): void {
    for (const stop of this.unsubscribe) stop();
  }

  async principalOf(issuer: string, identity: TokenIdentity): Promise<Principal> {
    const key = `${issuer}\n${identity.user_id}\n${ref(identity.team)}\n${ref(identity.organization)}`;
    const now = Date.now();
    let entry = this.cache.get(key);
    Metrics.cacheRequests.inc({ cache: 'token_principals', result: entry && entry.until >= now ? 'hit' : 'miss' });
    if (!entry || entry.until < now) {
      entry = await this.resolve(issuer, identity, now);
      if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, entry);
    }
    if ('error' in entry) throw entry.error;
    return entry.principal;
  }

  private async resolve(issuer: string, identity: TokenIdentity, now: number): Promise<Entry> {
    try {
      const principal = await this.bus.call(
        ResolveTokenPrincipal,
        { issuer, user_id: identity.user_id, team: identity.team, organization: identity.organization },
        { timeoutMs: 2_000 },
      );
      return { principal, until: now + POSITIVE_TTL_MS };
    } catch (error) {
      if (DomainError.is(error, 'UNAUTHENTICATED')) return { error, until: now + NEGATIVE_TTL_MS };
      throw error;
    }
  }
}
