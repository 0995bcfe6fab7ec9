import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '#libs/config';
import { DomainError, MASTER_PRINCIPAL, type Principal } from '#libs/contracts';
import { startAuthorizationServer, type AuthorizationServer } from '../../../../test/fixtures/authorization-server.js';
import type { PrincipalService } from '../auth/principal.service.js';
import type { EdgeSettings } from '../edge-settings.js';
import { OriginPolicy } from '../http/origin.js';
import type { TokenIdentity } from './claim-mapping.js';
import { ProtectedResource } from './protected-resource.js';
import type { TokenPrincipals } from './token-principals.js';

// The HTTP level of the edge as a protected resource: the metadata documents, the challenges, and which Principal
// reaches the transport. Behind it is a real HTTP server calling ProtectedResource as the MCP router does.

const KEY = 'sk-valid-key-0123456789';
const keyPrincipal = { ...MASTER_PRINCIPAL, kind: 'virtual', is_admin: false, key_alias: 'k', token_hash: 'h' } as Principal;

function edgeSettings(general: Record<string, unknown>): EdgeSettings {
  return { env: {}, file: parseGatewayConfig({ general_settings: { master_key: 'sk-master', ...general } }, {}), masterKey: 'sk-master' } as unknown as EdgeSettings;
}

describe('ProtectedResource', () => {
  let as: AuthorizationServer;
  let server: http.Server;
  let base: string;
  let resource: ProtectedResource;
  const identities: { issuer: string; identity: TokenIdentity }[] = [];

  beforeAll(async () => {
    as = await startAuthorizationServer();
    const attached = new WeakMap<object, Principal>();
    const principals = {
      attach: (headers: object, p: Principal) => attached.set(headers, p),
      authenticate: async (headers: http.IncomingHttpHeaders) => {
        if (attached.has(headers)) return attached.get(headers);
        const key = String(headers['x-litellm-api-key'] ?? headers.authorization ?? '').replace(/^Bearer\s+/i, '');
        if (key === KEY) return keyPrincipal;
        if (key === 'sk-master') return MASTER_PRINCIPAL;
        throw new DomainError('UNAUTHENTICATED', 'invalid API key', { reason: 'unknown_key' });
      },
    } as unknown as PrincipalService;
    const tokenPrincipals = {
      principalOf: async (issuer: string, identity: TokenIdentity) => {
        identities.push({ issuer, identity });
        if (identity.team?.value.startsWith('ghost')) throw new DomainError('UNAUTHENTICATED', `the token's team "${identity.team.value}" does not exist`, { reason: 'unknown_team' });
        return { ...keyPrincipal, key_alias: `oauth:${identity.user_id}`, team_id: identity.team?.value ?? null, oauth_issuer: issuer } as Principal;
      },
    } as unknown as TokenPrincipals;
    const settings = edgeSettings({
      allowed_hosts: ['127.0.0.1'],
      enable_jwt_auth: true,
      litellm_jwtauth: { issuers: [{ issuer: as.issuer, jwks_url: as.jwksUri, team_id_jwt_field: 'team' }], required_scopes: ['mcp:tools'], scopes_supported: ['mcp:admin'] },
    });
    resource = new ProtectedResource(settings, principals, tokenPrincipals, new OriginPolicy([]));
    server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (path.startsWith('/.well-known/')) return resource.serveMetadata(req, res, path);
      void resource.admit(req, res, path).then(async (admitted) => {
        if (admitted) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(await principals.authenticate(req.headers)));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.close();
    await as?.close();
  });

  const call = async (path: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
    return { status: response.status, challenge: response.headers.get('www-authenticate'), body: (await response.json()) as any };
  };
  const token = (claims: Record<string, unknown>, options?: Parameters<AuthorizationServer['sign']>[1]) => as.sign({ sub: 'alice', team: 't1', scope: 'mcp:tools', ...claims }, options);

  it('serves RFC 9728 metadata for each MCP endpoint at the path-inserted well-known, and the gateway at the root', async () => {
    for (const endpoint of ['/mcp', '/mcp/everything', '/everything/mcp']) {
      const response = await fetch(`${base}/.well-known/oauth-protected-resource${endpoint}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(await response.json()).toEqual({
        resource: `${base}${endpoint}`,
        authorization_servers: [as.issuer],
        scopes_supported: ['mcp:tools', 'mcp:admin'],
        bearer_methods_supported: ['header'],
        resource_name: 'Switchboard MCP gateway',
      });
    }
    expect(((await (await fetch(`${base}/.well-known/oauth-protected-resource`)).json()) as { resource: string }).resource).toBe(base);
    expect((await fetch(`${base}/.well-known/oauth-protected-resource/v1/models`)).status).toBe(404);
  });

  it('uses public_base_url for resources and metadata URLs (a base path included)', () => {
    const behind = new ProtectedResource(
      edgeSettings({ enable_jwt_auth: true, public_base_url: 'https://GW.example.com/gateway/', litellm_jwtauth: { issuers: [{ issuer: as.issuer }] } }),
      {} as PrincipalService,
      {} as TokenPrincipals,
      new OriginPolicy([]),
    );
    expect(behind.metadata({ host: 'internal:4000' }, '/.well-known/oauth-protected-resource/gateway/mcp/x')?.resource).toBe('https://gw.example.com/gateway/mcp/x');
    expect(behind.metadata({ host: 'internal:4000' }, '/.well-known/oauth-protected-resource/mcp')?.resource).toBe('https://gw.example.com/gateway/mcp');
    expect(behind.metadata({}, '/.well-known/oauth-protected-resource')?.resource).toBe('https://gw.example.com/gateway');
    expect(behind.metadata({}, '/.well-known/oauth-protected-resource')).not.toHaveProperty('scopes_supported');
  });

  it('refuses to start without public_base_url while the Host header is not checked (token audiences would be the client\'s choice)', () => {
    const make = (general: Record<string, unknown>) => () =>
      new ProtectedResource(edgeSettings({ enable_jwt_auth: true, litellm_jwtauth: { issuers: [{ issuer: as.issuer }] }, ...general }), {} as PrincipalService, {} as TokenPrincipals, new OriginPolicy([]));
    expect(make({})).toThrow(/needs general_settings.public_base_url, or a checked Host header/);
    expect(make({ allowed_hosts: ['*'] })).toThrow(/public_base_url/);
    expect(make({ allowed_hosts: ['gw.example.com'] })).not.toThrow();
    expect(make({ public_base_url: 'https://gw.example.com' })).not.toThrow();
  });

  it('serves no metadata while JWT auth is off', () => {
    const off = new ProtectedResource(edgeSettings({}), {} as PrincipalService, {} as TokenPrincipals, new OriginPolicy([]));
    expect(off.enabled).toBe(false);
    expect(off.metadata({ host: 'x' }, '/.well-known/oauth-protected-resource/mcp')).toBeUndefined();
  });

  it('answers a request without credentials 401 with resource_metadata and scope, before any JSON-RPC', async () => {
    const reply = await call('/mcp/everything/');
    expect(reply.status).toBe(401);
    expect(reply.challenge).toBe(`Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp/everything", scope="mcp:tools"`);
    expect(reply.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32001 } });
  });

  it('admits a valid token for the endpoint with its mapped Principal, and a key as before', async () => {
    const ok = await call('/mcp', { authorization: `Bearer ${await token({ aud: `${base}/mcp` })}` });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ key_alias: 'oauth:alice', team_id: 't1', oauth_issuer: as.issuer });
    expect(ok.body.expires).toMatch(/^\d{4}-/);
    expect(ok.body.oauth_client_id).toBeNull();
    // the OAuth client the token was issued to: azp, else client_id (upstream OAuth consent is per client)
    expect((await call('/mcp', { authorization: `Bearer ${await token({ aud: `${base}/mcp`, client_id: 'desktop-app' })}` })).body.oauth_client_id).toBe('desktop-app');
    expect((await call('/mcp', { authorization: `Bearer ${await token({ aud: `${base}/mcp`, client_id: 'x', azp: 'ide-plugin' })}` })).body.oauth_client_id).toBe('ide-plugin');
    expect(identities.at(-1)).toEqual({ issuer: as.issuer, identity: { user_id: 'alice', team: { by: 'id', value: 't1' }, organization: null, claims: { sub: 'alice', team: 't1' } } });
    // a token for the gateway as a whole (the root metadata's resource) is good on every endpoint
    expect((await call('/everything/mcp', { authorization: `Bearer ${await token({ aud: base })}` })).status).toBe(200);
    expect((await call('/mcp', { 'x-litellm-api-key': `Bearer ${KEY}` })).body.key_alias).toBe('k');
    expect((await call('/mcp', { authorization: `Bearer ${KEY}` })).body.key_alias).toBe('k');
    expect((await call('/mcp', { authorization: 'Bearer sk-master' })).status).toBe(200);
  });

  it('answers every token failure 401 invalid_token with the challenge; a bad key alike', async () => {
    const cases: [string, Promise<string>][] = [
      ['the token is not meant for this resource (audience)', token({ aud: `${base}/mcp/other` })],
      ['the token has expired', token({ aud: `${base}/mcp` }, { expiresIn: -3600 })],
      ['the token is not from a trusted issuer', token({ aud: `${base}/mcp`, iss: 'https://elsewhere.example.com' })],
      ['the token names a key the issuer does not publish', token({ aud: `${base}/mcp` }, { header: { kid: 'unknown-kid' } })],
      ['the token\'s team "ghost" does not exist', token({ aud: `${base}/mcp`, team: 'ghost' })],
      ['the token has no user claim (sub)', token({ aud: `${base}/mcp`, sub: undefined })],
    ];
    for (const [description, pending] of cases) {
      const reply = await call('/mcp', { authorization: `Bearer ${await pending}` });
      expect(reply.status, description).toBe(401);
      expect(reply.challenge).toBe(`Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="${description.replace(/"/g, '\\"')}", scope="mcp:tools"`);
    }
    // a claim value in a description never breaks the header
    const response = await fetch(`${base}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${await token({ aud: `${base}/mcp`, team: 'ghost\r\nx-injected: 1 "é"' })}` }, body: '{}' });
    expect(response.status).toBe(401);
    expect(response.headers.get('x-injected')).toBeNull();
    expect(response.headers.get('www-authenticate')).toContain('error_description="the token\'s team \\"ghost??x-injected: 1 \\"?\\"\\" does not exist"');
    const badKey = await call('/mcp', { authorization: 'Bearer sk-nope' });
    expect(badKey.status).toBe(401);
    expect(badKey.challenge).toContain('error="invalid_token"');
    expect(badKey.challenge).toContain('resource_metadata=');
  });

  it('answers a token lacking a required scope 403 insufficient_scope naming all of them', async () => {
    const reply = await call('/mcp', { authorization: `Bearer ${await token({ aud: `${base}/mcp`, scope: 'mcp:read' })}` });
    expect(reply.status).toBe(403);
    expect(reply.challenge).toBe(
      `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", error="insufficient_scope", scope="mcp:tools", error_description="needs the scopes mcp:tools"`,
    );
  });

  it('refuses a disallowed Origin with 403 before anything about credentials', async () => {
    expect((await call('/mcp', { origin: 'https://evil.example.com' })).status).toBe(403);
  });
});
