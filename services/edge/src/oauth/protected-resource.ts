import { Inject, Injectable, Logger } from '@nestjs/common';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { API_KEY_PREFIX, DomainError, type Principal } from '#libs/contracts';
import { UpstreamUrlGuard } from '#libs/net-guard';
import { PrincipalService } from '../auth/principal.service.js';
import { constantTimeEquals } from '../auth/credentials.js';
import { EDGE_SETTINGS, type EdgeSettings } from '../edge-settings.js';
import { HostPolicy } from '../http/host.js';
import { HttpProblem } from '../http/http-problem.js';
import type { OriginPolicy } from '../http/origin.js';
import { writeMcpError } from '../mcp/mcp-errors.js';
import { AccessTokenVerifier, looksLikeJwt, type VerifiedToken } from './access-tokens.js';
import { identityOf, type TokenIdentity } from './claim-mapping.js';
import { guardedJsonFetcher } from './guarded-fetch.js';
import { InvalidToken, KeysUnavailable } from './issuer-keys.js';
import {
  canonicalResource,
  gatewayResource,
  mcpEndpointPath,
  METADATA_PREFIX,
  metadataUrl,
  resourceBase,
  resourceServerSettings,
  type ResourceServerSettings,
} from './resource-settings.js';
import { ORIGIN_POLICY } from '../tokens.js';
import { TokenIntrospector } from './token-introspection.js';
import { TokenPrincipals } from './token-principals.js';

/** JSON-RPC code of a 401 at the MCP endpoints (as for a missing or bad key). */
const UNAUTHORIZED_CODE = -32001;

/**
 * A quoted-string of an auth-param (RFC 9110): quotes and backslashes escaped, anything outside printable ASCII
 * replaced (a description may name a claim's value, which must never break the header).
 */
const quoted = (value: string) => `"${value.replace(/[^\x20-\x7E]/g, '?').replace(/[\\"]/g, (c) => `\\${c}`)}"`;

export interface TokenExplanation {
  issuer: string;
  user_id: string;
  team: TokenIdentity['team'];
  organization: TokenIdentity['organization'];
  claims: Record<string, unknown>;
  scopes: string[];
  required_scopes: string[];
  audience: unknown;
  expires: string | null;
}

/**
 * The edge as an OAuth 2.1 protected resource (RFC 9728, RFC 6750, MCP authorization), when
 * `general_settings.enable_jwt_auth` is on. In front of every MCP endpoint (`admit`, before any JSON-RPC is read):
 *   - no credentials: 401 with `WWW-Authenticate: Bearer resource_metadata="…", scope="…"`;
 *   - a JWT in `Authorization: Bearer`: validated for the canonical URI of the endpoint called (AccessTokenVerifier),
 *     its required scopes checked (403 insufficient_scope naming all of them), its claims mapped to a user, team and
 *     organization whose Principal (TokenPrincipals) is attached to the request for the transport to use;
 *   - with an issuer configured for introspection, a bearer that is neither a JWT nor an API key (`sk-…`) is an
 *     opaque token: its introspected claims (TokenIntrospector) go through the same checks and mapping;
 *   - anything else is an API key, verified as always (PrincipalService), its 401 carrying the same challenge.
 * The token itself is never stored, logged or forwarded.
 */
@Injectable()
export class ProtectedResource {
  private readonly log = new Logger(ProtectedResource.name);
  readonly settings: ResourceServerSettings;
  private readonly verifier: AccessTokenVerifier;
  private readonly introspector: TokenIntrospector;
  private readonly masterKey: string | undefined;

  constructor(
    @Inject(EDGE_SETTINGS) edgeSettings: EdgeSettings,
    @Inject(PrincipalService) private readonly principals: PrincipalService,
    @Inject(TokenPrincipals) private readonly tokenPrincipals: TokenPrincipals,
    @Inject(ORIGIN_POLICY) private readonly origins: OriginPolicy,
  ) {
    this.settings = resourceServerSettings(edgeSettings.file.config);
    this.masterKey = edgeSettings.masterKey;
    if (this.settings.enabled && !this.settings.baseUrl) {
      // the audience of tokens is the endpoint's URI; taken from an unchecked Host, any client could choose it
      const general = edgeSettings.file.config.general_settings;
      const env = edgeSettings.env as { ALLOWED_HOSTS?: string; HOST?: string };
      const hosts = HostPolicy.from([...(general.allowed_hosts ?? []), ...(env.ALLOWED_HOSTS ?? '').split(',')], env.HOST ?? '0.0.0.0');
      if (!hosts.checks) {
        throw new Error(
          'general_settings.enable_jwt_auth needs general_settings.public_base_url, or a checked Host header (allowed_hosts, ALLOWED_HOSTS, or a loopback HOST): token audiences are the endpoints\' URIs',
        );
      }
    }
    const fetchJson = guardedJsonFetcher(new UpstreamUrlGuard(this.settings.addressRules));
    this.verifier = new AccessTokenVerifier(this.settings, fetchJson);
    this.introspector = new TokenIntrospector(this.settings, fetchJson);
  }

  /** Introspection requests made (tests, diagnostics). */
  introspections(): number {
    return this.introspector.requests;
  }

  /** An access token rather than an API key: a JWT, or (with an introspecting issuer) anything not shaped as a key. */
  private isAccessToken(bearer: string): boolean {
    if (this.masterKey && constantTimeEquals(bearer, this.masterKey)) return false;
    return looksLikeJwt(bearer) || (this.introspector.enabled && !bearer.startsWith(API_KEY_PREFIX));
  }

  /** A JWT's signature and claims, or an opaque token's introspection. */
  private verifyToken(token: string, audiences: readonly string[] | 'unchecked'): Promise<VerifiedToken> {
    if (!looksLikeJwt(token)) return this.introspector.verify(token, audiences);
    return this.verifier.verify(token, audiences === 'unchecked' ? [] : audiences);
  }

  get enabled(): boolean {
    return this.settings.enabled;
  }

  /** Successful key-set fetches per issuer (tests, diagnostics). */
  keyFetches(): Record<string, number> {
    return this.verifier.keyFetches();
  }

  /**
   * GET /.well-known/oauth-protected-resource[{endpoint}]: the RFC 9728 document of an MCP endpoint, or of the
   * gateway as a whole at the root. 404 when JWT auth is off or the path names no MCP endpoint.
   */
  serveMetadata(req: IncomingMessage, res: ServerResponse, path: string): void {
    const document = req.method === 'GET' || req.method === 'HEAD' ? this.metadata(req.headers, path) : undefined;
    const headers = { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'cache-control': 'public, max-age=300' };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...headers, 'access-control-allow-methods': 'GET', 'access-control-allow-headers': 'mcp-protocol-version' }).end();
      return;
    }
    if (!document) {
      res.writeHead(404, headers).end(JSON.stringify({ error: { message: 'no protected resource here', type: 'not_found', code: '404' } }));
      return;
    }
    res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : JSON.stringify(document));
  }

  metadata(headers: IncomingHttpHeaders, path: string): Record<string, unknown> | undefined {
    if (!this.enabled || !path.startsWith(METADATA_PREFIX)) return undefined;
    const base = resourceBase(headers, this.settings.baseUrl);
    let rest = path.slice(METADATA_PREFIX.length);
    const basePath = base.pathname.replace(/\/+$/, '');
    if (basePath && (rest === basePath || rest.startsWith(`${basePath}/`))) rest = rest.slice(basePath.length);
    let resource: string;
    if (rest === '' || rest === '/') resource = gatewayResource(base);
    else {
      const endpoint = mcpEndpointPath(rest);
      if (!endpoint) return undefined;
      resource = canonicalResource(base, endpoint);
    }
    return {
      resource,
      authorization_servers: this.settings.issuers.map((issuer) => issuer.issuer),
      ...(this.settings.scopesSupported.length ? { scopes_supported: this.settings.scopesSupported } : {}),
      bearer_methods_supported: ['header'],
      resource_name: 'Switchboard MCP gateway',
    };
  }

  /**
   * Admits a request to the MCP endpoint at `path` or answers it (401/403/503) and returns false. On success the
   * request's Principal is attached for the transport (PrincipalService.authenticate finds it).
   */
  async admit(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    const endpoint = mcpEndpointPath(path) ?? path;
    const base = resourceBase(req.headers, this.settings.baseUrl);
    const resource = canonicalResource(base, endpoint);
    const challenge = (params: Record<string, string>) =>
      `Bearer ${Object.entries({ resource_metadata: metadataUrl(base, endpoint), ...params })
        .map(([k, v]) => `${k}=${quoted(v)}`)
        .join(', ')}`;
    const scope: Record<string, string> = this.settings.challengeScopes.length ? { scope: this.settings.challengeScopes.join(' ') } : {};
    try {
      this.origins.check(req.headers.origin); // a disallowed Origin is 403 before anything about credentials
      const bearer = bearerToken(req.headers);
      if (bearer === undefined && !req.headers['x-litellm-api-key']) {
        // RFC 6750 3.1: no error code when the request carried no credentials
        throw new HttpProblem(401, 'Unauthorized: sign in (OAuth) or send an API key', UNAUTHORIZED_CODE, { 'www-authenticate': challenge(scope) });
      }
      if (bearer !== undefined && !req.headers['x-litellm-api-key'] && this.isAccessToken(bearer)) {
        const principal = await this.principalOfToken(bearer, [resource, gatewayResource(base)], challenge, scope);
        this.principals.attach(req.headers, principal);
        return true;
      }
      try {
        this.principals.attach(req.headers, await this.principals.authenticate(req.headers));
      } catch (error) {
        if (DomainError.is(error, 'UNAUTHENTICATED')) {
          throw new HttpProblem(401, error.message, UNAUTHORIZED_CODE, { 'www-authenticate': challenge({ error: 'invalid_token', error_description: 'the API key is not valid', ...scope }) });
        }
        throw error;
      }
      return true;
    } catch (error) {
      writeMcpError(res, error);
      return false;
    }
  }

  private async principalOfToken(
    token: string,
    audiences: string[],
    challenge: (params: Record<string, string>) => string,
    scope: Record<string, string>,
  ): Promise<Principal> {
    const invalid = (description: string) =>
      new HttpProblem(401, `Unauthorized: ${description}`, UNAUTHORIZED_CODE, { 'www-authenticate': challenge({ error: 'invalid_token', error_description: description, ...scope }) });
    let verified: VerifiedToken;
    try {
      verified = await this.verifyToken(token, audiences);
    } catch (error) {
      if (error instanceof InvalidToken) throw invalid(error.message);
      if (error instanceof KeysUnavailable) {
        this.log.warn(error.message);
        throw new HttpProblem(503, 'the authorization server keys are unavailable; try again shortly', -32603, { 'retry-after': '5' });
      }
      throw error;
    }
    const missing = verified.policy.requiredScopes.filter((s) => !verified.scopes.includes(s));
    if (missing.length > 0) {
      const needed = verified.policy.requiredScopes.join(' ');
      throw new HttpProblem(403, `Forbidden: the token lacks the scope ${missing.join(' ')}`, -32600, {
        'www-authenticate': challenge({ error: 'insufficient_scope', scope: needed, error_description: `needs the scopes ${needed}` }),
      });
    }
    let identity: TokenIdentity;
    try {
      identity = identityOf(verified.policy, verified.claims);
    } catch (error) {
      if (error instanceof InvalidToken) throw invalid(error.message);
      throw error;
    }
    try {
      const principal = await this.tokenPrincipals.principalOf(verified.policy.issuer, identity);
      return {
        ...principal,
        expires: typeof verified.claims.exp === 'number' ? new Date(verified.claims.exp * 1000).toISOString() : null,
        oauth_client_id: oauthClientOf(verified.claims),
      };
    } catch (error) {
      if (DomainError.is(error, 'UNAUTHENTICATED')) throw invalid(error.message);
      throw error;
    }
  }

  /**
   * What a token maps to (GET /v1/mcp/permissions?token=): the checks of a request to `resource` (any of the
   * gateway's MCP endpoints when absent: the audience is then reported, not checked), then the claims read and the
   * Principal. Validation failures are INVALID_ARGUMENT naming the reason.
   */
  async explain(token: string, resource: string | undefined): Promise<{ token: TokenExplanation; principal: Principal }> {
    if (!this.enabled) throw new DomainError('INVALID_ARGUMENT', 'token: JWT auth is off (general_settings.enable_jwt_auth)', { field: 'token' });
    if (!looksLikeJwt(token) && !this.introspector.enabled) throw new DomainError('INVALID_ARGUMENT', 'token: not a JWT', { field: 'token' });
    let verified: VerifiedToken;
    try {
      if (resource || !looksLikeJwt(token)) verified = await this.verifyToken(token, resource ? [resource] : 'unchecked');
      else {
        // no resource to check against: the token's own audience is reported, not checked
        const aud = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { aud?: unknown }).aud;
        verified = await this.verifier.verify(token, (Array.isArray(aud) ? aud : [aud]).filter((a): a is string => typeof a === 'string'));
      }
    } catch (error) {
      if (error instanceof InvalidToken) throw new DomainError('INVALID_ARGUMENT', `token: ${error.message}`, { field: 'token', reason: 'invalid_token' });
      if (error instanceof KeysUnavailable) throw new DomainError('UPSTREAM_UNAVAILABLE', error.message);
      if (error instanceof SyntaxError) throw new DomainError('INVALID_ARGUMENT', 'token: not a JWT', { field: 'token' });
      throw error;
    }
    let identity: TokenIdentity;
    try {
      identity = identityOf(verified.policy, verified.claims);
    } catch (error) {
      if (error instanceof InvalidToken) throw new DomainError('INVALID_ARGUMENT', `token: ${error.message}`, { field: 'token', reason: 'invalid_token' });
      throw error;
    }
    const principal = await this.tokenPrincipals.principalOf(verified.policy.issuer, identity).catch((error: unknown) => {
      throw DomainError.is(error, 'UNAUTHENTICATED') ? new DomainError('INVALID_ARGUMENT', `token: ${error.message}`, { field: 'token', reason: error.details?.reason }) : error;
    });
    return {
      token: {
        issuer: verified.policy.issuer,
        user_id: identity.user_id,
        team: identity.team,
        organization: identity.organization,
        claims: identity.claims,
        scopes: verified.scopes,
        required_scopes: verified.policy.requiredScopes,
        audience: verified.claims.aud ?? null,
        expires: typeof verified.claims.exp === 'number' ? new Date(verified.claims.exp * 1000).toISOString() : null,
      },
      principal,
    };
  }
}

/** The OAuth client a token was issued to: `azp` (OpenID), else `client_id` (RFC 9068, RFC 7662); null when unsaid. */
function oauthClientOf(claims: Record<string, unknown>): string | null {
  const client = typeof claims.azp === 'string' && claims.azp ? claims.azp : claims.client_id;
  return typeof client === 'string' && client ? client.slice(0, 256) : null;
}

/** The credential of `Authorization: Bearer …` (RFC 6750 2.1), if any. */
function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const raw = headers.authorization;
  if (!raw) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(raw);
  return match ? match[1] : raw.trim() || undefined;
}
