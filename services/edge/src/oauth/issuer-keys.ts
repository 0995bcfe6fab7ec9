import { importJWK, type JWK } from 'jose';
import { FetchFailed, type JsonFetcher } from './guarded-fetch.js';
import type { IssuerPolicy } from './resource-settings.js';

/** A token that cannot be accepted: answered 401 with error="invalid_token" and this description. */
export class InvalidToken extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidToken';
  }
}

/** The issuer's keys could not be had (its JWKS or metadata unreachable): a server-side problem, not the token's. */
export class KeysUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeysUnavailable';
  }
}

type VerifyKey = Awaited<ReturnType<typeof importJWK>>;

export interface IssuerKeysOptions {
  /** How long a fetched key set is used before it is fetched again. */
  ttlMs: number;
  /** A kid the set lacks refetches it at most this often. */
  cooldownMs: number;
  now?: () => number;
}

/** The key types an algorithm may use: HS/RS confusion and the like fail here before any signature check. */
function keyFits(jwk: JWK, alg: string): boolean {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes('verify')) return false;
  if (alg.startsWith('RS') || alg.startsWith('PS')) return jwk.kty === 'RSA';
  if (alg === 'ES256') return jwk.kty === 'EC' && jwk.crv === 'P-256';
  if (alg === 'ES384') return jwk.kty === 'EC' && jwk.crv === 'P-384';
  if (alg === 'ES512') return jwk.kty === 'EC' && jwk.crv === 'P-521';
  if (alg === 'EdDSA') return jwk.kty === 'OKP' && (jwk.crv === 'Ed25519' || jwk.crv === 'Ed448');
  return false;
}

/**
 * One issuer's signing keys: its JWKS (from jwks_url, or the jwks_uri of its RFC 8414 / OpenID metadata, whose
 * `issuer` must be the configured one), fetched on first use and cached for `ttlMs`. A token naming a kid the set
 * lacks refetches it, at most once per `cooldownMs` (a flood of made-up kids costs one fetch per cool-down);
 * concurrent fetches are one. Private key members are never read; symmetric keys are never used.
 */
export class IssuerKeys {
  private keys: JWK[] = [];
  /** Last successful fetch, and last attempt (the cool-down counts from it, failures included). */
  private fetchedAt = -Infinity;
  private attemptedAt = -Infinity;
  private lastError?: string;
  private inFlight?: Promise<void>;
  private jwksUrl?: string;
  private readonly imported = new Map<string, Promise<VerifyKey>>();
  private readonly now: () => number;
  /** How many times the key set was fetched successfully. */
  fetches = 0;

  constructor(
    private readonly policy: IssuerPolicy,
    private readonly fetchJson: JsonFetcher,
    private readonly options: IssuerKeysOptions,
  ) {
    this.jwksUrl = policy.jwksUrl;
    this.now = options.now ?? Date.now;
  }

  /** The key verifying a token with this protected header; InvalidToken when none fits, KeysUnavailable when none can be had. */
  async keyFor(header: { alg: string; kid?: string }): Promise<VerifyKey> {
    const coolingDown = () => this.now() - this.attemptedAt < this.options.cooldownMs;
    if (this.now() - this.fetchedAt >= this.options.ttlMs) {
      if (!coolingDown() || this.inFlight) await this.refresh();
      if (this.keys.length === 0) throw new KeysUnavailable(`the signing keys of ${this.policy.issuer} are unavailable: ${this.lastError ?? 'not fetched yet'}`);
    }
    let jwk = this.select(header);
    if (!jwk && !coolingDown()) {
      await this.refresh();
      jwk = this.select(header);
    }
    if (!jwk) throw new InvalidToken(header.kid ? 'the token names a key the issuer does not publish' : 'no key of the issuer fits the token');
    const cacheKey = `${jwk.kid ?? ''}|${header.alg}|${jwk.n ?? jwk.x ?? ''}`;
    let key = this.imported.get(cacheKey);
    if (!key) {
      key = importJWK(publicPart(jwk), header.alg) as Promise<VerifyKey>;
      this.imported.set(cacheKey, key);
      key.catch(() => this.imported.delete(cacheKey));
    }
    try {
      return await key;
    } catch {
      throw new InvalidToken('the issuer key named by the token cannot verify it');
    }
  }

  private select(header: { alg: string; kid?: string }): JWK | undefined {
    const candidates = this.keys.filter((jwk) => keyFits(jwk, header.alg) && (header.kid === undefined || jwk.kid === header.kid));
    // without a kid, only an unambiguous key is used
    if (header.kid === undefined && candidates.length !== 1) return undefined;
    return candidates[0];
  }

  /** Fetches the key set, one fetch at a time; a failure keeps the keys already held (and is remembered). */
  private refresh(): Promise<void> {
    this.inFlight ??= (async () => {
      this.attemptedAt = this.now();
      try {
        const url = this.jwksUrl ?? (await this.discoverJwksUrl());
        const document = (await this.fetchJson(url)) as { keys?: unknown };
        if (!document || !Array.isArray(document.keys)) throw new FetchFailed(`${url}: not a JWK set`);
        this.keys = document.keys.filter((k): k is JWK => !!k && typeof k === 'object' && typeof (k as JWK).kty === 'string' && (k as JWK).kty !== 'oct');
        this.imported.clear();
        this.fetchedAt = this.now();
        this.lastError = undefined;
        this.fetches += 1;
      } catch (error) {
        this.lastError = (error as Error).message;
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }

  private async discoverJwksUrl(): Promise<string> {
    this.jwksUrl = await discoverEndpoint(this.policy.issuer, 'jwks_uri', this.fetchJson);
    return this.jwksUrl;
  }
}

/**
 * An endpoint named in the issuer's metadata: RFC 8414 (path-inserted), then OpenID discovery; the metadata's
 * `issuer` must be the configured one.
 */
export async function discoverEndpoint(issuerUrl: string, field: 'jwks_uri' | 'introspection_endpoint', fetchJson: JsonFetcher): Promise<string> {
  const issuer = new URL(issuerUrl);
  const path = issuer.pathname.replace(/\/+$/, '');
  const candidates = [
    `${issuer.origin}/.well-known/oauth-authorization-server${path}`,
    `${issuer.origin}${path}/.well-known/openid-configuration`,
    `${issuer.origin}/.well-known/openid-configuration${path}`,
  ];
  let last: unknown;
  for (const url of [...new Set(candidates)]) {
    try {
      const metadata = (await fetchJson(url)) as Record<string, unknown> | null;
      if (metadata?.issuer !== issuerUrl) throw new FetchFailed(`${url}: its issuer is not ${issuerUrl}`);
      const endpoint = metadata[field];
      if (typeof endpoint !== 'string') throw new FetchFailed(`${url}: no ${field}`);
      return endpoint;
    } catch (error) {
      last = error;
    }
  }
  throw last instanceof Error ? last : new FetchFailed('no authorization server metadata');
}

/** The public members only (a JWKS that wrongly carries private ones is not trusted with them). */
function publicPart(jwk: JWK): JWK {
  const { kty, crv, n, e, x, y, alg, kid } = jwk;
  return Object.fromEntries(Object.entries({ kty, crv, n, e, x, y, alg, kid }).filter(([, v]) => v !== undefined)) as JWK;
}
