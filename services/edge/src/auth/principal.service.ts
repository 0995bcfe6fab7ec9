import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { Bus } from '#libs/bus';
import { DomainError, KeysChanged, MASTER_PRINCIPAL, VerifyKey, type Principal } from '#libs/contracts';
import { Metrics } from '#libs/observability';
import { EDGE_SETTINGS, type EdgeSettings } from '../edge-settings.js';
import { noteCaller } from '../http/request-observer.js';
import { extractApiKey, isDigestOf, keyDigest } from './credentials.js';
import { cannotVerifyNow, STALE_LIMIT_MS, STALE_RETRY_MS } from './stale-keys.js';

const POSITIVE_TTL_MS = 60_000;
const NEGATIVE_TTL_MS = 2_000;
const MAX_ENTRIES = 50_000;

type CacheEntry = { principal: Principal; until: number; verifiedAt: number } | { error: DomainError; until: number };

/** Principals decided ahead of the transport (an OAuth access token at the MCP endpoints), per request. */
const attached = new WeakMap<IncomingHttpHeaders, Principal>();


/**
 * Who is calling. Keys are verified by `auth` once and then answered from this process's cache, so the hot
 * path makes no NATS hop for them; KeysChanged events drop entries on every replica at once.
 */
@Injectable()
export class PrincipalService implements OnModuleInit, OnModuleDestroy {
  private readonly cache = new Map<string, CacheEntry>();
  private unsubscribe?: () => void;

  private readonly masterDigest: Buffer | undefined;

  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(EDGE_SETTINGS) private readonly settings: EdgeSettings,
  ) {
    this.masterDigest = settings.masterKey ? keyDigest(settings.masterKey) : undefined;
  }

  onModuleInit(): void {
    this.unsubscribe = this.bus.subscribe(KeysChanged, ({ token_hashes }) => {
      if (token_hashes.length === 0) this.cache.clear();
      for (const hash of token_hashes) this.cache.delete(hash);
    });
    // key events may have been missed while disconnected: every entry is verified again on its next use (kept for
    // the case that auth cannot answer then: stale-keys.ts)
    this.bus.onReconnect(() => {
      for (const entry of this.cache.values()) entry.until = 0;
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  /** The Principal of this request, decided already (ProtectedResource: a validated OAuth token, or a key). */
  attach(headers: IncomingHttpHeaders, principal: Principal): void {
    attached.set(headers, principal);
    noteCaller(headers, principal);
  }

  /** Resolves the request's key to a Principal or throws UNAUTHENTICATED; the access log learns the key's alias. */
  async authenticate(headers: IncomingHttpHeaders): Promise<Principal> {
    const decided = attached.get(headers);
    if (decided) return decided;
    const principal = await this.resolve(headers);
    noteCaller(headers, principal);
    return principal;
  }

  private async resolve(headers: IncomingHttpHeaders): Promise<Principal> {
    const key = extractApiKey(headers);
    if (!key) throw new DomainError('UNAUTHENTICATED', 'missing API key: send x-litellm-api-key or Authorization: Bearer <key>');
    // one hash per request: the digest is compared with the master key's, and its hex is the key's stored hash
    const digest = keyDigest(key);
    if (this.masterDigest && isDigestOf(digest, this.masterDigest)) return MASTER_PRINCIPAL;
    const hash = digest.toString('hex');
    const now = Date.now();
    let entry = this.cache.get(hash);
    Metrics.cacheRequests.inc({ cache: 'keys', result: entry && entry.until >= now ? 'hit' : 'miss' });
    if (!entry || entry.until < now) {
      const previous = entry;
      try {
        entry = await this.verify(key, now);
      } catch (error) {
        // auth cannot verify it now (it or its database is away): a key verified before keeps working for a while
        if (!previous || !('principal' in previous) || now - previous.verifiedAt > STALE_LIMIT_MS || !cannotVerifyNow(error)) throw error;
        entry = { ...previous, until: now + STALE_RETRY_MS };
      }
      if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(hash, entry);
    }
    if ('error' in entry) throw entry.error;
    const { principal } = entry;
    if (principal.expires && Date.parse(principal.expires) <= now) {
      throw new DomainError('UNAUTHENTICATED', 'API key has expired', { reason: 'expired' });
    }
    return principal;
  }

  private async verify(key: string, now: number): Promise<CacheEntry> {
    try {
      const principal = await this.bus.call(VerifyKey, { key }, { timeoutMs: 2_000 });
      return { principal, until: now + POSITIVE_TTL_MS, verifiedAt: now };
    } catch (error) {
      if (DomainError.is(error, 'UNAUTHENTICATED')) return { error, until: now + NEGATIVE_TTL_MS };
      throw error;
    }
  }
}
