import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import type { JsonFetcher } from './guarded-fetch.js';
import { InvalidToken, IssuerKeys } from './issuer-keys.js';
import type { IssuerPolicy, ResourceServerSettings } from './resource-settings.js';

export interface VerifiedToken {
  policy: IssuerPolicy;
  claims: JWTPayload;
  scopes: string[];
}

/** A compact JWS: three base64url parts (the last may be empty, as in alg "none"), a header naming an alg. */
export function looksLikeJwt(credential: string): boolean {
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(credential)) return false;
  try {
    return typeof decodeProtectedHeader(credential).alg === 'string';
  } catch {
    return false;
  }
}

/** The token's scopes: `scope` (RFC 9068, space-separated) or `scp` (a list or a string). */
export function scopesOf(claims: JWTPayload): string[] {
  const raw = claims.scope ?? claims.scp;
  if (typeof raw === 'string') return raw.split(' ').filter(Boolean);
  if (Array.isArray(raw)) return raw.filter((s): s is string => typeof s === 'string');
  return [];
}

/**
 * Validates JWT access tokens against the configured issuers: the issuer must be one of them (matched exactly on
 * `iss`, before anything else is trusted), the algorithm on its allow-list (asymmetric only: `none` and HS* never),
 * the key one it publishes (IssuerKeys), then signature, `iss`, audience (the canonical URI of the endpoint called
 * or a configured one: never learned from tokens), `exp` (required) and `nbf` with the leeway. Every failure is an
 * InvalidToken whose message is safe to send back (it never echoes the token's own values).
 */
export class AccessTokenVerifier {
  private readonly byIssuer = new Map<string, { policy: IssuerPolicy; keys: IssuerKeys }>();

  constructor(
    private readonly settings: ResourceServerSettings,
    fetchJson: JsonFetcher,
    now?: () => number,
  ) {
    for (const policy of settings.issuers) {
      this.byIssuer.set(policy.issuer, {
        policy,
        keys: new IssuerKeys(policy, fetchJson, { ttlMs: settings.publicKeyTtlMs, cooldownMs: settings.refetchCooldownMs, now }),
      });
    }
  }

  /** Successful key-set fetches per issuer. */
  keyFetches(): Record<string, number> {
    return Object.fromEntries([...this.byIssuer].map(([issuer, { keys }]) => [issuer, keys.fetches]));
  }

  async verify(token: string, audiences: readonly string[]): Promise<VerifiedToken> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw new InvalidToken('the token is not a well-formed JWT');
    }
    const entry = typeof unverified.iss === 'string' ? this.byIssuer.get(unverified.iss) : undefined;
    if (!entry) throw new InvalidToken('the token is not from a trusted issuer');
    const { policy, keys } = entry;
    const alg = header.alg;
    if (typeof alg !== 'string' || !(policy.algorithms as string[]).includes(alg)) {
      throw new InvalidToken('the token is signed with an algorithm that is not accepted');
    }
    if (header.kid !== undefined && typeof header.kid !== 'string') throw new InvalidToken('the token is not a well-formed JWT');
    const key = await keys.keyFor({ alg, kid: header.kid });
    try {
      const { payload } = await jwtVerify(token, key, {
        issuer: policy.issuer,
        audience: [...audiences, ...policy.audiences],
        algorithms: [alg],
        clockTolerance: this.settings.leewaySeconds,
        requiredClaims: ['exp'],
      });
      return { policy, claims: payload, scopes: scopesOf(payload) };
    } catch (error) {
      throw new InvalidToken(describeFailure(error));
    }
  }
}

function describeFailure(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'the token is not meant for this resource (audience)';
    if (error.claim === 'iss') return 'the token is not from a trusted issuer';
    if (error.claim === 'nbf') return 'the token is not valid yet';
    if (error.claim === 'exp') return 'the token has no expiry';
    return `the token's ${error.claim} claim is invalid`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm that is not accepted';
  return 'the token is invalid';
}
