import * as oauth from 'oauth4webapi';
import { DomainError, type OAuth2Settings } from '#libs/contracts';

/** What the gateway got from an authorization server; `expires_at` in ms since the epoch, null when not said. */
export interface TokenSet {
  access_token: string;
  token_type: string;
  refresh_token: string | null;
  scope: string | null;
  expires_at: number | null;
}

/** An upstream's OAuth settings plus what they protect (the server's URL: the RFC 8707 `resource`). */
export type UpstreamOAuthSettings = Partial<OAuth2Settings> & { server_name: string; url: string | null };

export interface UpstreamOAuthClientOptions {
  /** Checks every authorization server URL before it is fetched (the connector's and registry's address rules). */
  checkUrl?: (url: string) => Promise<unknown>;
  /** Per request to the authorization server (ms). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/**
 * The gateway as an OAuth client of one upstream's authorization server (oauth4webapi): endpoints from the
 * settings, or discovered from `issuer` (RFC 8414, else OpenID Connect discovery) and kept; client_credentials,
 * authorization code with PKCE, refresh and RFC 8693 token exchange. Every token request names the upstream's URL
 * as its `resource` (RFC 8707), so the tokens are for that server only. Secrets and tokens never reach an error
 * message: errors name the server, the endpoint's origin and the authorization server's error code.
 */
export class UpstreamOAuthClient {
  private metadata: Promise<oauth.AuthorizationServer> | undefined;
  private readonly client: oauth.Client;
  private readonly auth: oauth.ClientAuth;

  constructor(
    private readonly settings: UpstreamOAuthSettings,
    private readonly options: UpstreamOAuthClientOptions = {},
  ) {
    if (!settings.client_id) throw new DomainError('INVALID_ARGUMENT', `server ${settings.server_name}: client_id is required for OAuth`, { field: 'client_id' });
    this.client = { client_id: settings.client_id };
    const method = settings.token_endpoint_auth_method ?? (settings.client_secret ? 'client_secret_basic' : 'none');
    this.auth =
      method === 'none' || !settings.client_secret
        ? oauth.None()
        : method === 'client_secret_post'
          ? oauth.ClientSecretPost(settings.client_secret)
          : oauth.ClientSecretBasic(settings.client_secret);
  }

  /** The machine token of the server (`client_credentials`). */
  async clientCredentials(): Promise<TokenSet> {
    const as = await this.authorizationServer('token');
    return this.token('client_credentials', as, async () =>
      oauth.processClientCredentialsResponse(as, this.client, await oauth.clientCredentialsGrantRequest(as, this.client, this.auth, this.tokenParameters(), this.requestOptions(as.token_endpoint))),
    );
  }

  /** A new access token for a refresh token (the AS may rotate the refresh token: the new one is returned). */
  async refresh(refreshToken: string): Promise<TokenSet> {
    const as = await this.authorizationServer('token');
    const tokens = await this.token('refresh_token', as, async () =>
      oauth.processRefreshTokenResponse(
        as,
        this.client,
        await oauth.refreshTokenGrantRequest(as, this.client, this.auth, refreshToken, { ...this.requestOptions(as.token_endpoint), additionalParameters: this.resourceParameter() }),
      ),
    );
    return { ...tokens, refresh_token: tokens.refresh_token ?? refreshToken };
  }

  /** The URL the browser is sent to (authorization code with PKCE S256). */
  async authorizationUrl(request: { redirectUri: string; state: string; codeVerifier: string }): Promise<string> {
    const as = await this.authorizationServer('authorization');
    const url = new URL(as.authorization_endpoint!);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', this.client.client_id);
    url.searchParams.set('redirect_uri', request.redirectUri);
    url.searchParams.set('state', request.state);
    url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(request.codeVerifier));
    url.searchParams.set('code_challenge_method', 'S256');
    if (this.settings.scopes?.length) url.searchParams.set('scope', this.settings.scopes.join(' '));
    if (this.settings.url) url.searchParams.set('resource', this.settings.url);
    return url.href;
  }

  /** The origin the browser is sent to (shown on the consent page). */
  async authorizationOrigin(): Promise<string> {
    const as = await this.authorizationServer('authorization');
    return new URL(as.authorization_endpoint!).origin;
  }

  /** The authorization server sent the browser back: checks state (and `iss` when advertised), exchanges the code. */
  async exchangeCode(request: { callbackUrl: URL; expectedState: string; codeVerifier: string; redirectUri: string }): Promise<TokenSet> {
    const as = await this.authorizationServer('token');
    let params: URLSearchParams;
    const callback = new URL(request.callbackUrl);
    // Without a configured issuer there is no issuer to hold `iss` against (the endpoints were given by hand).
    if (!this.settings.issuer) callback.searchParams.delete('iss');
    try {
      params = oauth.validateAuthResponse(as, this.client, callback, request.expectedState);
    } catch (error) {
      if (error instanceof oauth.AuthorizationResponseError) {
        throw new DomainError('PERMISSION_DENIED', `the authorization server of ${this.settings.server_name} refused: ${error.error}${error.error_description ? ` (${error.error_description})` : ''}`, {
          oauth_error: error.error,
        });
      }
      throw new DomainError('INVALID_ARGUMENT', `the authorization response for ${this.settings.server_name} is not valid: ${(error as Error).message}`);
    }
    return this.token('authorization_code', as, async () =>
      oauth.processAuthorizationCodeResponse(
        as,
        this.client,
        await oauth.authorizationCodeGrantRequest(as, this.client, this.auth, params, request.redirectUri, request.codeVerifier, {
          ...this.requestOptions(as.token_endpoint),
          additionalParameters: this.resourceParameter(),
        }),
      ),
    );
  }

  /** RFC 8693: `subjectToken` exchanged for a token for this server (`audience`, `scopes`, the resource). */
  async tokenExchange(subjectToken: string): Promise<TokenSet> {
    const as = await this.authorizationServer('exchange');
    const parameters: Record<string, string> = {
      subject_token: subjectToken,
      subject_token_type: this.settings.subject_token_type ?? ACCESS_TOKEN_TYPE,
      requested_token_type: ACCESS_TOKEN_TYPE,
      ...this.tokenParameters(),
    };
    return this.token('token_exchange', as, async () =>
      oauth.processGenericTokenEndpointResponse(
        as,
        this.client,
        await oauth.genericTokenEndpointRequest(as, this.client, this.auth, TOKEN_EXCHANGE_GRANT, parameters, this.requestOptions(as.token_endpoint)),
      ),
    );
  }

  /**
   * Revokes a token at the authorization server (RFC 7009). False when it names no revocation endpoint (only a
   * discovered one is known: the settings have none); an error when it refuses or cannot be reached.
   */
  async revoke(token: string, hint: 'refresh_token' | 'access_token'): Promise<boolean> {
    if (!this.settings.issuer) return false;
    const as = { ...(await this.discovered(this.settings.issuer)), ...(this.settings.token_url ? { token_endpoint: this.settings.token_url } : {}) };
    if (!as.revocation_endpoint) return false;
    const where = new URL(as.revocation_endpoint).origin;
    try {
      const response = await oauth.revocationRequest(as, this.client, this.auth, token, {
        additionalParameters: { token_type_hint: hint },
        ...this.requestOptions(as.revocation_endpoint),
      });
      await oauth.processRevocationResponse(response);
      return true;
    } catch (error) {
      if (error instanceof DomainError) throw error;
      throw new DomainError('UPSTREAM_UNAVAILABLE', `revoking the ${hint} of ${this.settings.server_name} at ${where} failed: ${describe(error)}`);
    }
  }

  /** Endpoints from the settings, the rest discovered from `issuer` once (a failed discovery is asked again next time). */
  private async authorizationServer(needs: 'token' | 'authorization' | 'exchange'): Promise<oauth.AuthorizationServer> {
    const s = this.settings;
    const tokenEndpoint = needs === 'exchange' ? (s.token_exchange_endpoint ?? s.token_url) : (s.token_url ?? s.token_exchange_endpoint);
    const configured = needs === 'authorization' ? s.authorization_url : tokenEndpoint;
    if (configured || !s.issuer) {
      if (!configured) {
        const field = needs === 'authorization' ? 'authorization_url' : needs === 'exchange' ? 'token_exchange_endpoint' : 'token_url';
        throw new DomainError('INVALID_ARGUMENT', `server ${s.server_name}: ${field} (or issuer) is required`, { field });
      }
      return {
        issuer: s.issuer ?? new URL(configured).origin,
        ...(tokenEndpoint ? { token_endpoint: tokenEndpoint } : {}),
        ...(s.authorization_url ? { authorization_endpoint: s.authorization_url } : {}),
      };
    }
    const discovered = await this.discovered(s.issuer);
    return {
      ...discovered,
      ...(s.token_url ? { token_endpoint: s.token_url } : {}),
      ...(needs === 'exchange' && s.token_exchange_endpoint ? { token_endpoint: s.token_exchange_endpoint } : {}),
      ...(s.authorization_url ? { authorization_endpoint: s.authorization_url } : {}),
    };
  }

  /** The issuer's metadata, read once (a failed read is tried again next time). */
  private discovered(issuer: string): Promise<oauth.AuthorizationServer> {
    this.metadata ??= this.discover(new URL(issuer)).catch((error: unknown) => {
      this.metadata = undefined;
      throw error;
    });
    return this.metadata;
  }

  private async discover(issuer: URL): Promise<oauth.AuthorizationServer> {
    let lastError: unknown;
    for (const algorithm of ['oauth2', 'oidc'] as const) {
      try {
        const response = await oauth.discoveryRequest(issuer, { algorithm, ...this.requestOptions(issuer.href) });
        return await oauth.processDiscoveryResponse(issuer, response);
      } catch (error) {
        lastError = error;
      }
    }
    throw new DomainError('UPSTREAM_UNAVAILABLE', `server ${this.settings.server_name}: the authorization server metadata of ${issuer.origin} could not be read (${describe(lastError)})`);
  }

  private async token(grant: string, as: oauth.AuthorizationServer, request: () => Promise<oauth.TokenEndpointResponse>): Promise<TokenSet> {
    let response: oauth.TokenEndpointResponse;
    try {
      response = await request();
    } catch (error) {
      const where = as.token_endpoint ? new URL(as.token_endpoint).origin : 'its authorization server';
      if (error instanceof oauth.ResponseBodyError) {
        // invalid_grant: the refresh token (or code) is no longer good; the user must authorize again
        throw new DomainError('PERMISSION_DENIED', `${grant} for ${this.settings.server_name} refused by ${where}: ${error.error}`, { oauth_error: error.error });
      }
      if (error instanceof oauth.WWWAuthenticateChallengeError) {
        // 401 with a challenge: the gateway's own client authentication was refused (invalid_client)
        const code = error.cause.map((c) => c.parameters.error).find(Boolean) ?? `HTTP ${error.status}`;
        throw new DomainError('PERMISSION_DENIED', `${grant} for ${this.settings.server_name} refused by ${where}: ${code}`, { oauth_error: code });
      }
      if (error instanceof DomainError) throw error;
      throw new DomainError('UPSTREAM_UNAVAILABLE', `${grant} for ${this.settings.server_name} at ${where} failed: ${describe(error)}`);
    }
    return {
      access_token: response.access_token,
      token_type: response.token_type || 'bearer',
      refresh_token: response.refresh_token ?? null,
      scope: response.scope ?? null,
      expires_at: typeof response.expires_in === 'number' ? Date.now() + response.expires_in * 1000 : null,
    };
  }

  private tokenParameters(): Record<string, string> {
    return {
      ...(this.settings.scopes?.length ? { scope: this.settings.scopes.join(' ') } : {}),
      ...(this.settings.audience ? { audience: this.settings.audience } : {}),
      ...this.resourceParameter(),
    };
  }

  private resourceParameter(): Record<string, string> {
    return this.settings.url ? { resource: this.settings.url } : {};
  }

  private requestOptions(url: string | undefined): { [oauth.allowInsecureRequests]?: boolean; [oauth.customFetch]: typeof fetch; signal: () => AbortSignal } {
    const doFetch = this.options.fetch ?? fetch;
    const checkUrl = this.options.checkUrl;
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const guarded: typeof fetch = async (input, init) => {
      const target = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (checkUrl) await checkUrl(target);
      return doFetch(input, init);
    };
    return {
      // self-hosted authorization servers on plain http are allowed as upstream URLs are (the address rules apply)
      ...(url?.startsWith('http:') ? { [oauth.allowInsecureRequests]: true } : {}),
      [oauth.customFetch]: guarded,
      signal: () => AbortSignal.timeout(timeoutMs),
    };
  }
}

function describe(error: unknown): string {
  if (error instanceof oauth.ResponseBodyError) return `${error.status} ${error.error}`;
  if (error instanceof oauth.WWWAuthenticateChallengeError) return `${error.status} ${error.cause.map((c) => c.parameters.error).find(Boolean) ?? ''}`.trim();
  if (error instanceof Error) return (error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message).slice(0, 300);
  return String(error);
}

/**
 * How long before its expiry a token is replaced: a tenth of its lifetime but at least two seconds (expiry times are
 * whole seconds in JWTs, and clocks differ), never more than half of it nor more than a minute. A token of an hour
 * is replaced in its last minute, one of six seconds in its last two.
 */
export function refreshAheadMs(lifetimeMs: number): number {
  const lifetime = Math.max(0, lifetimeMs);
  return Math.min(60_000, lifetime / 2, Math.max(lifetime / 10, 2_000));
}

/** A random PKCE verifier and state (oauth4webapi's generators). */
export const newCodeVerifier = (): string => oauth.generateRandomCodeVerifier();
export const newState = (): string => oauth.generateRandomState();
