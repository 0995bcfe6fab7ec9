import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JWT_ALGORITHMS } from '#libs/config';
import { UpstreamUrlGuard } from '#libs/net-guard';
import { startAuthorizationServer, type AuthorizationServer } from '../../../../test/fixtures/authorization-server.js';
import { guardedJsonFetcher } from './guarded-fetch.js';
import { InvalidToken, KeysUnavailable } from './issuer-keys.js';
import type { IssuerPolicy, ResourceServerSettings } from './resource-settings.js';
import { TokenIntrospector } from './token-introspection.js';

// Opaque access tokens against the test authorization server (oidc-provider): it issues opaque tokens for
// OPAQUE_RESOURCE and answers RFC 7662 introspection to its confidential clients.

const OPAQUE_RESOURCE = 'http://127.0.0.1:4000/mcp';
const SERVICE = { client_id: 'svc', client_secret: 'svc-secret-0123456789', grant_types: ['client_credentials'] as never };

describe('TokenIntrospector against the test authorization server', () => {
  let as: AuthorizationServer;
  const fetchJson = guardedJsonFetcher(new UpstreamUrlGuard({}));

  beforeAll(async () => {
    as = await startAuthorizationServer({ clients: [SERVICE], opaqueResources: (resource) => resource === OPAQUE_RESOURCE });
  });
  afterAll(() => as?.close());

  const introspector = (introspection: Partial<NonNullable<IssuerPolicy['introspection']>> = {}, issuer?: string) => {
    const policy: IssuerPolicy = {
      issuer: issuer ?? as.issuer,
      audiences: [],
      algorithms: [...JWT_ALGORITHMS],
      userField: 'client_id',
      teamAliasMap: {},
      organizationAliasMap: {},
      requiredScopes: [],
      introspection: { clientId: SERVICE.client_id, clientSecret: SERVICE.client_secret, cacheMs: 60_000, ...introspection },
    };
    const settings: ResourceServerSettings = { enabled: true, issuers: [policy], challengeScopes: [], scopesSupported: [], leewaySeconds: 5, publicKeyTtlMs: 600_000, refetchCooldownMs: 30_000, addressRules: {} };
    return new TokenIntrospector(settings, fetchJson);
  };
  const opaqueToken = async () => (await as.clientCredentialsToken(SERVICE.client_id, SERVICE.client_secret, { resource: OPAQUE_RESOURCE, scope: 'mcp:tools' })).access_token;
  const refusal = async (promise: Promise<unknown>) => {
    const error = await promise.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidToken);
    return (error as Error).message;
  };

  it('accepts an active opaque token meant for the endpoint (endpoint from the metadata), and asks once while its answer is kept', async () => {
    const token = await opaqueToken();
    expect(token.split('.')).toHaveLength(1); // opaque, not a JWT
    const sut = introspector();
    const verified = await sut.verify(token, [OPAQUE_RESOURCE]);
    expect(verified.policy.issuer).toBe(as.issuer);
    expect(verified.claims).toMatchObject({ active: true, client_id: 'svc', aud: OPAQUE_RESOURCE });
    expect(verified.scopes).toEqual(['mcp:tools']);
    await sut.verify(token, [OPAQUE_RESOURCE]);
    expect(sut.requests).toBe(1);
  });

  it('refuses a token meant for another resource, one it does not know, and one revoked (once its answer is no longer kept)', async () => {
    const token = await opaqueToken();
    expect(await refusal(introspector().verify(token, ['http://127.0.0.1:4000/mcp/other']))).toBe('the token is not meant for this resource (audience)');
    expect(await refusal(introspector().verify('made-up-token-0123456789', [OPAQUE_RESOURCE]))).toBe('the token is not active');

    const uncached = introspector({ cacheMs: 0 });
    await uncached.verify(token, [OPAQUE_RESOURCE]);
    const revoked = await fetch(`${as.issuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${SERVICE.client_id}:${SERVICE.client_secret}`).toString('base64')}` },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
    });
    expect(revoked.status).toBe(200);
    expect(await refusal(uncached.verify(token, [OPAQUE_RESOURCE]))).toBe('the token is not active');
  });

  it('refuses every token when the gateway client is not allowed to introspect, and says so apart when the endpoint is unreachable', async () => {
    const token = await opaqueToken();
    const wrongSecret = introspector({ url: as.introspectionEndpoint, clientSecret: 'not-the-secret-0123456789' });
    expect(await wrongSecret.verify(token, [OPAQUE_RESOURCE]).then(() => undefined, (e: unknown) => e)).toBeInstanceOf(KeysUnavailable);
    const down = introspector({ url: 'http://127.0.0.1:9/introspect' });
    expect(await down.verify(token, [OPAQUE_RESOURCE]).then(() => undefined, (e: unknown) => e)).toBeInstanceOf(KeysUnavailable);
  });

  it("ignores an answer naming another issuer", async () => {
    const token = await opaqueToken();
    // the endpoint is asked on behalf of an issuer it does not belong to: its answer's iss differs
    const impostor = introspector({ url: as.introspectionEndpoint }, 'http://127.0.0.1:1/another-issuer');
    expect(await refusal(impostor.verify(token, [OPAQUE_RESOURCE]))).toBe('the token is not active');
  });
});
