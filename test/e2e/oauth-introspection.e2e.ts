import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthorizationServer, type AuthorizationServer } from '../fixtures/authorization-server.js';
import {
  api,
  callApi,
  eventually,
  generateKey,
  printLogsOnFailure,
  rawPost,
  request,
  startCountingServer,
  startSuite,
  textOf,
  toolNames,
  type CountingServer,
  type Suite,
} from './support/index.js';

// Opaque access tokens at the MCP endpoints (RFC 7662): an issuer configured with `introspection` has its non-JWT
// tokens checked at its introspection endpoint (found in its metadata); they are then mapped like its JWTs. The
// test authorization server issues opaque tokens for the gateway's endpoints to a service client (client
// credentials), with a groups claim that maps to a team.

const SERVICE = { client_id: 'reporting-bot', client_secret: 'reporting-bot-secret-0123', grant_types: ['client_credentials'] as never };
const GATEWAY = { client_id: 'switchboard', client_secret: 'switchboard-introspection-0123', grant_types: ['client_credentials'] as never };

describe('opaque access tokens, introspected (distributed)', () => {
  let suite: Suite | undefined;
  let as: AuthorizationServer;
  let counted: CountingServer;
  let other: CountingServer;
  let edge: string;
  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    [as, counted, other] = await Promise.all([
      startAuthorizationServer({
        scopes: ['mcp:tools'],
        clients: [SERVICE, GATEWAY],
        opaqueResources: (resource) => new URL(resource).pathname.startsWith('/mcp'),
        claims: ({ clientId }) => (clientId === SERVICE.client_id ? { groups: ['engineering'] } : undefined),
      }),
      startCountingServer(),
      startCountingServer(),
    ]);
    suite = await startSuite({
      config: {
        mcp_servers: { counted: { url: counted.url, transport: 'http' }, other: { url: other.url, transport: 'http' } },
        general_settings: {
          allowed_hosts: ['127.0.0.1'],
          enable_jwt_auth: true,
          litellm_jwtauth: {
            issuers: [
              {
                issuer: as.issuer,
                introspection: { client_id: GATEWAY.client_id, client_secret: GATEWAY.client_secret },
                user_id_jwt_field: 'client_id',
                team_id_jwt_field: 'groups',
                team_alias_map: { engineering: 'eng' },
              },
            ],
            required_scopes: ['mcp:tools'],
          },
        },
      },
    });
    edge = suite.edgeUrls[0]!;
    await api(edge, suite.masterKey, '/team/new', { team_alias: 'eng', object_permission: { mcp_servers: ['counted'] } });
  }, 180_000);

  afterAll(async () => {
    await suite?.stop();
    await Promise.all([as?.close(), counted?.stop(), other?.stop()]);
  });

  const tokenFor = async (resource: string) => (await as.clientCredentialsToken(SERVICE.client_id, SERVICE.client_secret, { resource, scope: 'mcp:tools' })).access_token;
  /** A stateless 2026-07-28 tools/list: authenticated on its own, no session needed. */
  const listWith = (token: string, path = '/mcp') =>
    rawPost(
      `${edge}${path}`,
      request('tools/list', { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } }),
      { headers: { authorization: `Bearer ${token}`, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' } },
    );

  it("an opaque token meant for /mcp lists and calls exactly its team's servers with the official client", async () => {
    const token = await tokenFor(`${edge}/mcp`);
    expect(token.split('.')).toHaveLength(1);
    const client = new Client({ name: 'opaque-token-e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${edge}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      await eventually(async () => (await toolNames(client)).includes('counted-echo'), 30_000);
      expect((await toolNames(client)).filter((name) => name.startsWith('other-'))).toEqual([]);
      expect(textOf(await client.callTool({ name: 'counted-echo', arguments: { text: 'opaque' } }))).toBe('opaque');
    } finally {
      await client.close();
    }
  });

  it('refuses an unknown token and one meant for another endpoint with 401 invalid_token; API keys still work', async () => {
    const challenge = (reply: { status: number; headers: Headers }) => {
      expect(reply.status).toBe(401);
      return reply.headers.get('www-authenticate') ?? '';
    };
    expect(challenge(await listWith('not-a-token-anyone-issued-0123'))).toContain('error_description="the token is not active"');
    expect(challenge(await listWith(await tokenFor(`${edge}/mcp/other`)))).toContain('error_description="the token is not meant for this resource (audience)"');

    const { key } = await generateKey(suite!, { key_alias: 'plain-key' });
    expect((await listWith(key)).status).toBe(200);
  });

  it('/v1/mcp/permissions?token= explains an opaque token too', async () => {
    const token = await tokenFor(`${edge}/mcp`);
    const reply = await callApi(edge, suite!.masterKey, `/v1/mcp/permissions?token=${encodeURIComponent(token)}&resource=${encodeURIComponent(`${edge}/mcp`)}`);
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect((reply.body as any).token).toMatchObject({ issuer: as.issuer, user_id: SERVICE.client_id, team: { value: 'eng' }, scopes: ['mcp:tools'] });
    expect(JSON.stringify(reply.body)).not.toContain(token);
  });
});
