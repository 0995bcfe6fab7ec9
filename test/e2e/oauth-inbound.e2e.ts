import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthorizationServer, type AuthorizationServer } from '../fixtures/authorization-server.js';
import {
  api,
  callApi,
  connectClient,
  eventually,
  generateKey,
  MODES,
  printLogsOnFailure,
  rawPost,
  request,
  startCountingServer,
  startEverything,
  startSuite,
  textOf,
  toolNames,
  type CountingServer,
  type HttpEverything,
  type Suite,
} from './support/index.js';

// Issue 14, inbound half (done-means 1 and 2): the edge as an OAuth 2.1 protected resource. The official MCP clients
// (v1 SDK and v2 client) with their OAuth client providers start from a 401, discover the metadata (RFC 9728), register
// at the test authorization server, sign in through its automated consent (authorization code + PKCE, RFC 8707
// resource indicator) and list and call tools on /mcp and /mcp/{server}: exactly what an API key of the team their
// token maps to sees. Bad tokens of every kind get 401 invalid_token; a JWKS rotation is picked up without restart.

const REDIRECT = 'http://127.0.0.1:9/oauth/callback';
const MODERN = '2026-07-28';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const sorted = (names: string[]) => [...names].sort();
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const modern = (method: string, params: Record<string, unknown> = {}) =>
  request(method, { ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} } });
const modernHeaders = (method: string) => ({ 'mcp-protocol-version': MODERN, 'mcp-method': method });

/**
 * An OAuth client provider for both SDKs: keeps its registration, tokens and PKCE verifier in memory; "redirecting
 * the user" follows the authorization URL through the fixture's automated login and consent to the callback.
 */
class AutomatedOAuthProvider {
  private registration?: Record<string, unknown>;
  private stored?: Record<string, unknown>;
  private verifier = '';
  callback?: URL;
  redirects = 0;

  constructor(
    private readonly as: AuthorizationServer,
    private readonly name: string,
  ) {}

  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata() {
    return { client_name: this.name, redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  clientInformation() {
    return this.registration as any;
  }
  saveClientInformation(information: Record<string, unknown>) {
    this.registration = information;
  }
  tokens() {
    return this.stored as any;
  }
  saveTokens(tokens: Record<string, unknown>) {
    this.stored = tokens;
  }
  async redirectToAuthorization(url: URL) {
    this.redirects += 1;
    this.callback = await this.as.authorize(url);
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  accessToken(): string {
    return String(this.stored?.access_token ?? '');
  }
}

/** Records every response the client's transport gets (status and challenge), to see the flow start from a 401. */
function recordingFetch(seen: { status: number; url: string; challenge: string | null }[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    seen.push({ status: response.status, url: String(input instanceof Request ? input.url : input), challenge: response.headers.get('www-authenticate') });
    return response;
  };
}

async function connectV1(url: string, provider: AutomatedOAuthProvider, seen: Parameters<typeof recordingFetch>[0], headers: Record<string, string> = {}): Promise<Client> {
  const make = () => {
    const client = new Client({ name: 'oauth-e2e-v1', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch: recordingFetch(seen), requestInit: { headers } });
    return { client, transport };
  };
  let { client, transport } = make();
  try {
    await client.connect(transport);
    return client;
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  const code = provider.callback?.searchParams.get('code');
  if (!code) throw new Error(`no authorization code came back: ${provider.callback}`);
  await transport.finishAuth(code);
  ({ client, transport } = make());
  await client.connect(transport);
  return client;
}

async function connectV2(url: string, provider: AutomatedOAuthProvider, seen: Parameters<typeof recordingFetch>[0], mode: 'auto' | 'legacy' | { pin: string }): Promise<ClientV2> {
  const make = () => {
    const client = new ClientV2({ name: 'oauth-e2e-v2', version: '1.0.0' }, { versionNegotiation: { mode } });
    const transport = new TransportV2(new URL(url), { authProvider: provider as any, fetch: recordingFetch(seen) });
    return { client, transport };
  };
  let { client, transport } = make();
  try {
    await client.connect(transport);
    return client;
  } catch (error) {
    if (!provider.callback) throw error;
  }
  await transport.finishAuth(provider.callback.searchParams);
  ({ client, transport } = make());
  await client.connect(transport);
  return client;
}

async function toolNamesV2(client: ClientV2): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor);
  return names;
}

describe.each(MODES)('the edge as an OAuth 2.1 protected resource (%s)', (mode) => {
  let suite: Suite | undefined;
  let as: AuthorizationServer;
  let stranger: AuthorizationServer;
  let everything: HttpEverything;
  let probe: CountingServer;
  let other: CountingServer;
  let edge: string;
  let teamKey: string;
  let teamId: string;
  const closers: { close(): Promise<void> }[] = [];
  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    [as, stranger, everything, probe, other] = await Promise.all([
      startAuthorizationServer({
        scopes: ['mcp:tools'],
        user: 'alice',
        // alice and carol are in the IdP's engineering group; dave in none the gateway knows
        claims: ({ user }) => ({ groups: user === 'dave' ? ['marketing'] : ['staff', 'engineering'] }),
      }),
      startAuthorizationServer({ scopes: ['mcp:tools'] }),
      startEverything('streamableHttp'),
      startCountingServer(),
      startCountingServer(),
    ]);
    suite = await startSuite({
      mode,
      config: {
        mcp_servers: {
          ev: { url: everything.url, transport: 'http' },
          // whoami reports the headers it received; authorization is listed, and must still never be forwarded
          probe: { url: probe.url, transport: 'http', extra_headers: ['authorization', 'x-litellm-api-key', 'x-probe'] },
          other: { url: other.url, transport: 'http' },
        },
        general_settings: {
          allowed_hosts: ['127.0.0.1'], // the audience of tokens comes from the Host header: it must be checked
          enable_jwt_auth: true,
          litellm_jwtauth: {
            issuers: [{ issuer: as.issuer, jwks_url: as.jwksUri, team_id_jwt_field: 'groups', team_alias_map: { engineering: 'eng' } }],
            required_scopes: ['mcp:tools'],
            jwks_refetch_cooldown_seconds: 1,
          },
        },
      },
    });
    edge = suite.edgeUrls[0]!;
    const master = await connectClient(`${edge}/mcp`, suite.masterKey);
    closers.push(master);
    await eventually(async () => {
      const names = await toolNames(master);
      return names.includes('ev-echo') && names.includes('probe-whoami') && names.includes('other-echo');
    }, 30_000);
    const team = await api(edge, suite.masterKey, '/team/new', {
      team_alias: 'eng',
      object_permission: { mcp_servers: ['ev', 'probe'], mcp_tool_permissions: { ev: ['echo', 'get-sum'] } },
    });
    teamId = team.team_id;
    teamKey = (await generateKey(suite, { team_id: teamId, key_alias: 'eng-key' })).key;
  });

  afterAll(async () => {
    await Promise.all(closers.map((c) => c.close().catch(() => undefined)));
    await suite?.stop();
    await Promise.all([as?.close(), stranger?.close(), everything?.stop(), probe?.stop(), other?.stop()]);
  });

  describe.each(['/mcp', '/mcp/ev'])('on %s', (path) => {
    it('v1 SDK: 401 → metadata → registration → authorization code + PKCE → tools, exactly what a key of the mapped team sees', async () => {
      as.resetCounters();
      const seen: Parameters<typeof recordingFetch>[0] = [];
      const provider = new AutomatedOAuthProvider(as, 'v1-e2e');
      const client = await connectV1(`${edge}${path}`, provider, seen);
      closers.push(client);

      // it started from a 401 whose challenge points at this endpoint's metadata
      const first = seen.find((r) => r.url.startsWith(`${edge}${path}`));
      expect(first?.status).toBe(401);
      expect(first?.challenge).toBe(`Bearer resource_metadata="${edge}/.well-known/oauth-protected-resource${path}", scope="mcp:tools"`);
      expect(seen.some((r) => r.url === `${edge}/.well-known/oauth-protected-resource${path}` && r.status === 200)).toBe(true);
      expect(as.counters()).toMatchObject({ registrations: 1, authorizations: 1, tokensIssued: { authorization_code: 1 } });
      const claims = JSON.parse(Buffer.from(provider.accessToken().split('.')[1]!, 'base64url').toString('utf8'));
      expect(claims).toMatchObject({ aud: `${edge}${path}`, sub: 'alice', scope: 'mcp:tools', iss: as.issuer });

      const keyClient = await connectClient(`${edge}${path}`, teamKey);
      closers.push(keyClient);
      const viaToken = sorted(await toolNames(client));
      expect(viaToken).toEqual(sorted(await toolNames(keyClient)));
      const prefix = path === '/mcp' ? 'ev-' : '';
      expect(viaToken).toContain(`${prefix}echo`);
      expect(viaToken).not.toContain(`${prefix}get-env`); // the team's tool permission
      if (path === '/mcp') {
        expect(viaToken.some((n) => n.startsWith('probe-'))).toBe(true);
        expect(viaToken.some((n) => n.startsWith('other-'))).toBe(false); // the team may not use it
      }
      expect(textOf(await client.callTool({ name: `${prefix}echo`, arguments: { message: 'signed in' } }))).toContain('signed in');
      expect(textOf(await client.callTool({ name: `${prefix}get-sum`, arguments: { a: 40, b: 2 } }))).toContain('42');
      await expect(client.callTool({ name: `${prefix}get-env`, arguments: {} })).rejects.toThrow(/Unknown tool/);
    });

    it('v2 client (auto: 2026-07-28 with server/discover): signs in the same way and sees the same tools', async () => {
      const seen: Parameters<typeof recordingFetch>[0] = [];
      const provider = new AutomatedOAuthProvider(as, 'v2-e2e');
      const client = await connectV2(`${edge}${path}`, provider, seen, 'auto');
      closers.push(client);
      expect(seen.find((r) => r.url.startsWith(`${edge}${path}`))?.status).toBe(401);
      expect(provider.redirects).toBe(1);
      expect(client.getNegotiatedProtocolVersion()).toBe(MODERN);
      const keyClient = await connectClient(`${edge}${path}`, teamKey);
      closers.push(keyClient);
      expect(sorted(await toolNamesV2(client))).toEqual(sorted(await toolNames(keyClient)));
      const prefix = path === '/mcp' ? 'ev-' : '';
      expect(textOf(await client.callTool({ name: `${prefix}echo`, arguments: { message: 'modern sign-in' } }))).toContain('modern sign-in');
    });
  });

  it('the v2 client in legacy mode keeps a 2025 session, each request authenticated by its token', async () => {
    const seen: Parameters<typeof recordingFetch>[0] = [];
    const provider = new AutomatedOAuthProvider(as, 'v2-legacy-e2e');
    const client = await connectV2(`${edge}/mcp/ev`, provider, seen, 'legacy');
    closers.push(client);
    expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'in a session' } }))).toContain('in a session');
    expect(seen.filter((r) => r.url.startsWith(`${edge}/mcp/ev`) && r.status === 401)).toHaveLength(1);
  });

  it('never sends the inbound token upstream (Authorization is not forwarded even when listed in extra_headers)', async () => {
    const provider = new AutomatedOAuthProvider(as, 'probe-e2e');
    const client = await connectV1(`${edge}/mcp/probe`, provider, [], { 'x-probe': 'forwarded' });
    closers.push(client);
    const seenUpstream = textOf(await client.callTool({ name: 'whoami', arguments: {} }));
    expect(JSON.parse(seenUpstream)).toMatchObject({ 'x-probe': 'forwarded' }); // the forwarding itself works
    expect(seenUpstream).not.toContain(provider.accessToken());
    expect(JSON.parse(seenUpstream)).not.toHaveProperty('authorization');
  });

  describe('tokens that must be refused', () => {
    const tools = (token: string, path = '/mcp') => rawPost(`${edge}${path}`, modern('tools/list'), { headers: { ...bearer(token), ...modernHeaders('tools/list') } });
    const expectInvalid = async (token: string, path = '/mcp') => {
      const reply = await tools(token, path);
      expect(reply.status, reply.text).toBe(401);
      expect(reply.headers.get('www-authenticate')).toMatch(new RegExp(`^Bearer resource_metadata="${edge}/.well-known/oauth-protected-resource${path}", error="invalid_token", error_description="[^"]+", scope="mcp:tools"$`));
      return reply;
    };
    const now = () => Math.floor(Date.now() / 1000);

    it('a good token is accepted (stateless 2026-07-28, authenticated on its own)', async () => {
      const reply = await tools(await as.sign({ sub: 'carol', aud: `${edge}/mcp`, scope: 'mcp:tools', groups: ['engineering'] }));
      expect(reply.status, reply.text).toBe(200);
      expect(reply.message.result.tools.map((t: { name: string }) => t.name)).toContain('ev-echo');
    });

    it('wrong audience, wrong issuer, expired, alg none, HS/RS confusion, unknown kid: 401 invalid_token each', async () => {
      const claims = { sub: 'carol', scope: 'mcp:tools', groups: ['engineering'] };
      await expectInvalid(await as.sign({ ...claims, aud: `${edge}/mcp/ev` }));
      await expectInvalid(await as.sign({ ...claims, aud: `${edge}/mcp` }), '/mcp/ev');
      await expectInvalid(await stranger.sign({ ...claims, aud: `${edge}/mcp` }));
      await expectInvalid(await stranger.sign({ ...claims, aud: `${edge}/mcp`, iss: as.issuer }));
      await expectInvalid(await as.sign({ ...claims, aud: `${edge}/mcp` }, { expiresIn: -3600 }));
      const payload = { ...claims, iss: as.issuer, aud: `${edge}/mcp`, iat: now(), exp: now() + 600 };
      await expectInvalid(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`);
      const publicPem = createPublicKey({ key: as.publicJwk() as JsonWebKey, format: 'jwk' }).export({ format: 'pem', type: 'spki' });
      await expectInvalid(await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: as.kid() }).sign(new Uint8Array(Buffer.from(publicPem))));
      await expectInvalid(await as.sign({ ...claims, aud: `${edge}/mcp` }, { header: { kid: 'not-a-published-kid' } }));
      // a token whose team claim maps to no team of the gateway
      await expectInvalid(await as.sign({ ...claims, groups: ['marketing', 'sales'], aud: `${edge}/mcp` }));
    });

    it('a token without the required scope: 403 insufficient_scope naming all required scopes', async () => {
      const reply = await tools(await as.sign({ sub: 'carol', aud: `${edge}/mcp`, scope: 'profile', groups: ['engineering'] }));
      expect(reply.status).toBe(403);
      expect(reply.headers.get('www-authenticate')).toContain('error="insufficient_scope", scope="mcp:tools"');
    });

    it('no credentials: 401 with the challenge at the HTTP level, even for a body that is not JSON-RPC', async () => {
      const reply = await rawPost(`${edge}/mcp`, 'this is not JSON');
      expect(reply.status).toBe(401);
      expect(reply.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${edge}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`);
      const metadata = await (await fetch(`${edge}/.well-known/oauth-protected-resource/mcp`)).json();
      expect(metadata).toEqual({
        resource: `${edge}/mcp`,
        authorization_servers: [as.issuer],
        scopes_supported: ['mcp:tools'],
        bearer_methods_supported: ['header'],
        resource_name: 'Switchboard MCP gateway',
      });
      expect(((await (await fetch(`${edge}/.well-known/oauth-protected-resource`)).json()) as { resource: string }).resource).toBe(edge);
    });

    it('picks up a JWKS rotation at the authorization server without a restart', async () => {
      await as.rotateKeys();
      const token = await as.sign({ sub: 'carol', aud: `${edge}/mcp`, scope: 'mcp:tools', groups: ['engineering'] });
      // a new kid refetches the key set (at most once a second, the configured cool-down)
      await eventually(async () => (await tools(token)).status === 200, 10_000, 200);
      // tokens issued by the real flows after the rotation work as well
      const provider = new AutomatedOAuthProvider(as, 'after-rotation');
      const client = await connectV1(`${edge}/mcp`, provider, []);
      closers.push(client);
      expect(textOf(await client.callTool({ name: 'ev-echo', arguments: { message: 'rotated' } }))).toContain('rotated');
    });
  });

  it('2025 sessions belong to the user: a refreshed token keeps the session, another user’s token does not', async () => {
    const claims = { scope: 'mcp:tools', groups: ['engineering'], aud: `${edge}/mcp` };
    const first = await as.sign({ ...claims, sub: 'erin' });
    const init = await rawPost(`${edge}/mcp`, request('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } }), { headers: bearer(first) });
    expect(init.status, init.text).toBe(200);
    const sessionId = init.headers.get('mcp-session-id')!;
    const list = (token: string) => rawPost(`${edge}/mcp`, request('tools/list'), { sessionId, protocolVersion: '2025-11-25', headers: bearer(token) });
    expect((await list(await as.sign({ ...claims, sub: 'erin' }))).status).toBe(200); // a new token of the same user
    expect((await list(await as.sign({ ...claims, sub: 'mallory' }))).status).toBe(404);
    expect((await rawPost(`${edge}/mcp`, request('tools/list'), { sessionId, protocolVersion: '2025-11-25' })).status).toBe(401);
  });

  it('/v1/mcp/permissions?token= explains the mapping: issuer, claims, team and effective tools', async () => {
    const token = await as.sign({ sub: 'carol', aud: `${edge}/mcp`, scope: 'mcp:tools', groups: ['staff', 'engineering'] });
    const reply = await callApi(edge, suite!.masterKey, `/v1/mcp/permissions?token=${encodeURIComponent(token)}&resource=${encodeURIComponent(`${edge}/mcp`)}`);
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    const body = reply.body as any;
    expect(body.token).toMatchObject({ issuer: as.issuer, user_id: 'carol', team: { by: 'id_or_alias', value: 'eng' }, claims: { sub: 'carol', groups: ['staff', 'engineering'] } });
    expect(JSON.stringify(body)).not.toContain(token);
    const wrong = await callApi(edge, suite!.masterKey, `/v1/mcp/permissions?token=${encodeURIComponent(token)}&resource=${encodeURIComponent(`${edge}/mcp/ev`)}`);
    expect(wrong.status).toBe(400);
    expect(JSON.stringify(wrong.body)).toContain('audience');
    // a token is not a credential for the management API
    expect((await callApi(edge, token, '/v1/mcp/permissions?key=x')).status).toBe(401);
  });

  it('a team change reaches token holders at once (TeamsChanged)', async () => {
    const token = await as.sign({ sub: 'carol', aud: `${edge}/mcp`, scope: 'mcp:tools', groups: ['engineering'] });
    const names = async () => ((await rawPost(`${edge}/mcp`, modern('tools/list'), { headers: { ...bearer(token), ...modernHeaders('tools/list') } })).message?.result?.tools ?? []).map((t: { name: string }) => t.name);
    expect(await names()).toContain('ev-get-sum');
    await api(edge, suite!.masterKey, '/team/update', { team_id: teamId, object_permission: { mcp_servers: ['ev', 'probe'], mcp_tool_permissions: { ev: ['echo'] } } });
    await eventually(async () => !(await names()).includes('ev-get-sum'), 5_000);
    expect(await names()).toContain('ev-echo');
  });
});
