import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { scopesOf, type VerifiedToken } from './access-tokens.js';
import type { JsonFetcher } from './guarded-fetch.js';
import { discoverEndpoint, InvalidToken, KeysUnavailable } from './issuer-keys.js';
import type { IssuerPolicy, ResourceServerSettings } from './resource-settings.js';

/** Answers kept at most: past it the oldest go. */
const MAX_CACHED = 10_000;
/** An inactive answer is kept at most this long (a token just issued is not refused for long). */
const MAX_INACTIVE_CACHE_MS = 10_000;

type Answer = { active: true; policy: IssuerPolicy; claims: JWTPayload } | { active: false };

/**
 * Opaque access tokens of the issuers configured with `introspection` (RFC 7662): the issuer's introspection
 * endpoint (configured, or from its metadata) is asked with the gateway's client credentials, and an active answer
 * is checked as a JWT's claims are: `iss` (when said) the issuer asked, `aud` naming the endpoint called, the
 * gateway or a configured audience (required: nothing is learned from tokens), `exp` not past and `nbf` not ahead.
 * Answers are kept per token hash for `cache_seconds` (never past `exp`; an inactive one 10 s at most), so a
 * revoked token may work that long. The token is never stored, logged or forwarded.
 */
export class TokenIntrospector {
  private readonly issuers: IssuerPolicy[];
  private readonly cache = new Map<string, { until: number; answer: Answer }>();
  private readonly endpoints = new Map<string, Promise<string>>();
  private readonly now: () => number;
  /** How many times an introspection endpoint was asked (tests, diagnostics). */
  requests = 0;

  constructor(
    private readonly settings: ResourceServerSettings,
    private readonly fetchJson: JsonFetcher,
    now?: () => number,
  ) {
    this.issuers = settings.issuers.filter((issuer) => issuer.introspection);
    this.now = now ?? Date.now;
  }

  get enabled(): boolean {
    return this.issuers.length > 0;
  }

  /** The token's verified claims; InvalidToken when it is refused, KeysUnavailable when no issuer could be asked. */
  async verify(token: string, audiences: readonly string[] | 'unchecked'): Promise<VerifiedToken> {
    const answer = await this.answerFor(token);
    if (!answer.active) throw new InvalidToken('the token is not active');
    const { policy, claims } = answer;
    const now = this.now() / 1000;
    const leeway = this.settings.leewaySeconds;
    if (typeof claims.exp === 'number' && claims.exp + leeway < now) throw new InvalidToken('the token has expired');
    if (typeof claims.nbf === 'number' && claims.nbf - leeway > now) throw new InvalidToken('the token is not valid yet');
    if (audiences !== 'unchecked') {
      const named = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
      const accepted = new Set([...audiences, ...policy.audiences]);
      if (!named.some((aud) => accepted.has(aud))) throw new InvalidToken('the token is not meant for this resource (audience)');
    }
    return { policy, claims, scopes: scopesOf(claims) };
  }

  private async answerFor(token: string): Promise<Answer> {
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.cache.get(key);
    if (cached && cached.until > this.now()) return cached.answer;
    const answer = await this.ask(token);
    this.remember(key, answer);
    return answer;
  }

  /** Each introspecting issuer in turn, until one says the token is active and its own. */
  private async ask(token: string): Promise<Answer> {
    let failure: string | undefined;
    for (const policy of this.issuers) {
      const settings = policy.introspection!;
      let reply: unknown;
      try {
        const url = await this.endpointOf(policy);
        this.requests += 1;
        reply = await this.fetchJson(url, {
          form: { token, token_type_hint: 'access_token', ...(settings.clientSecret ? {} : { client_id: settings.clientId }) },
          ...(settings.clientSecret ? { authorization: basicAuthorization(settings.clientId, settings.clientSecret) } : {}),
        });
      } catch (error) {
        failure = `the introspection endpoint of ${policy.issuer} is unavailable: ${(error as Error).message}`;
        continue;
      }
      const claims = reply as JWTPayload & { active?: unknown };
      if (!claims || typeof claims !== 'object' || claims.active !== true) continue;
      if (claims.iss !== undefined && claims.iss !== policy.issuer) continue;
      return { active: true, policy, claims };
    }
    if (failure) throw new KeysUnavailable(failure);
    return { active: false };
  }

  private endpointOf(policy: IssuerPolicy): Promise<string> {
    const configured = policy.introspection!.url;
    if (configured) return Promise.resolve(configured);
    let endpoint = this.endpoints.get(policy.issuer);
    if (!endpoint) {
      endpoint = discoverEndpoint(policy.issuer, 'introspection_endpoint', this.fetchJson);
      this.endpoints.set(policy.issuer, endpoint);
      endpoint.catch(() => this.endpoints.delete(policy.issuer));
    }
    return endpoint;
  }

  private remember(key: string, answer: Answer): void {
    const now = this.now();
    let keepMs = answer.active ? answer.policy.introspection!.cacheMs : Math.min(MAX_INACTIVE_CACHE_MS, ...this.issuers.map((i) => i.introspection!.cacheMs));
    if (answer.active && typeof answer.claims.exp === 'number') keepMs = Math.min(keepMs, answer.claims.exp * 1000 - now);
    if (keepMs <= 0) return;
    this.cache.delete(key);
    this.cache.set(key, { until: now + keepMs, answer });
    if (this.cache.size > MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
  }
}

/** RFC 6749 2.3.1: id and secret form-urlencoded, then Basic. */
function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}
