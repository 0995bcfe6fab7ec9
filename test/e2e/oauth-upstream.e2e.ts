import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthorizationServer, TOKEN_EXCHANGE_GRANT, type AuthorizationServer } from '../fixtures/authorization-server.js';
import { startProtectedUpstream, type ProtectedUpstream } from '../fixtures/protected-upstream.js';
import { api, callApi, eventually, generateKey, keyHeaders, printLogsOnFailure, startCountingServer, startSuite, textOf, toolNames, type CountingServer, type Suite } from './support/index.js';

// Issue 14, upstream half (done-means 3 and 4): OAuth toward upstream MCP servers. The fixture authorization
// server (oidc-provider) issues JWT access tokens for the upstream's URL; the protected upstream fixture admits
// only those and records which token each request carried.
//   - `machine`: oauth2_flow client_credentials (config file, token_url): every request carries the gateway's
//     machine token, fetched once per connector replica and reused.
//   - `personal`: oauth2_flow authorization_code (admin API, issuer discovery): each user connects their own
//     account through the gateway's consent page (per client), and their requests carry their own token.
//   - `exchange`: auth_type oauth2_token_exchange (RFC 8693): a caller signed in to the gateway with OAuth has its
//     own token exchanged for one of the server; the inbound token itself never reaches it.
//   - `plain`: no OAuth at all: unaffected by anything above.
// Two connector replicas, access tokens that live a few seconds: 50 concurrent calls with an expired user token
// cause exactly one refresh at the authorization server.

const ACCESS_TOKEN_TTL_S = 10;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const MACHINE_CLIENT = { client_id: 'gateway-machine', client_secret: 'machine-secret-0123456789' };

let as: AuthorizationServer;
let machine: ProtectedUpstream;
let personal: ProtectedUpstream;
let exchange: ProtectedUpstream;
let plain: CountingServer;
let suite: Suite | undefined;
let edge: string;
const clients: Client[] = [];

printLogsOnFailure(() => suite);

beforeAll(async () => {
  as = await startAuthorizationServer({
    scopes: ['mcp:tools'],
    ttl: { accessToken: ACCESS_TOKEN_TTL_S },
    tokenExchange: true,
    clients: [{ ...MACHINE_CLIENT, grant_types: ['client_credentials', TOKEN_EXCHANGE_GRANT] as never }],
  });
  [machine, personal, exchange, plain] = await Promise.all([
    startProtectedUpstream({ issuer: as.issuer, jwksUri: as.jwksUri, resourceScheme: 'machine' }),
    startProtectedUpstream({ issuer: as.issuer, jwksUri: as.jwksUri }),
    startProtectedUpstream({ issuer: as.issuer, jwksUri: as.jwksUri, resourceScheme: 'exchange' }),
    startCountingServer(),
  ]);
});

afterAll(async () => {
  await Promise.all([machine?.close(), personal?.close(), exchange?.close(), plain?.stop(), as?.close()]);
});

/** The gateway's client at the authorization server, registered for this gateway's callback (RFC 7591), then the per-user server. */
async function addPersonalServer(): Promise<void> {
  const registered = (await (
    await fetch(as.registrationEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: [`${edge}/v1/mcp/oauth/callback`],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      }),
    })
  ).json()) as { client_id: string; client_secret: string };
  const created = await api(edge, suite!.masterKey, '/v1/mcp/server', {
    server_name: 'personal',
    url: personal.url,
    transport: 'http',
    auth_type: 'oauth2',
    oauth2_flow: 'authorization_code',
    client_id: registered.client_id,
    client_secret: registered.client_secret,
    issuer: as.issuer,
    scopes: ['mcp:tools'],
    allow_all_keys: true,
  });
  expect(created.client_secret).not.toContain(registered.client_secret.slice(0, -4));
}

async function startDistributed(): Promise<void> {
  suite = await startSuite({
    connectors: 2,
    config: {
      mcp_servers: {
        machine: {
          url: machine.url,
          transport: 'http',
          auth_type: 'oauth2',
          oauth2_flow: 'client_credentials',
          client_id: MACHINE_CLIENT.client_id,
          client_secret: MACHINE_CLIENT.client_secret,
          token_url: as.tokenEndpoint,
          scopes: ['mcp:tools'],
          allow_all_keys: true,
        },
        exchange: {
          url: exchange.url,
          transport: 'http',
          auth_type: 'oauth2_token_exchange',
          client_id: MACHINE_CLIENT.client_id,
          client_secret: MACHINE_CLIENT.client_secret,
          token_exchange_endpoint: as.tokenEndpoint,
          scopes: ['mcp:tools'],
          allow_all_keys: true,
        },
        plain: { url: plain.url, transport: 'http', allow_all_keys: true },
      },
      general_settings: {
        allowed_hosts: ['127.0.0.1'],
        enable_jwt_auth: true,
        litellm_jwtauth: { issuers: [{ issuer: as.issuer, jwks_url: as.jwksUri }], required_scopes: ['mcp:tools'] },
      },
    },
  });
  edge = suite.edgeUrls[0]!;
  await addPersonalServer();
}

async function stopSuite(): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await suite?.stop();
  suite = undefined;
}

async function connect(key: string, capabilities: Record<string, unknown> = {}, headers = keyHeaders(key)): Promise<Client> {
  const client = new Client({ name: 'oauth-upstream-e2e', version: '1.0.0' }, { capabilities });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${edge}/mcp`), { requestInit: { headers } }));
  clients.push(client);
  return client;
}

/** The consent link in a challenge: a tool error's text (or its _meta). */
function consentLinkOf(result: unknown): string {
  const meta = (result as { _meta?: Record<string, { url?: string }> })._meta?.['switchboard/authorization'];
  const url = meta?.url ?? /(https?:\/\/\S+\/authorize\?ticket=[A-Za-z0-9_-]+)/.exec(textOf(result))?.[1];
  if (!url) throw new Error(`no consent link in ${JSON.stringify(result)}`);
  return url;
}

/**
 * What a user does in the browser: opens the consent page, approves, signs in at the authorization server (the
 * fixture automates its own step) and comes back to the gateway's callback. Returns the final page's text.
 */
async function consent(link: string, user: string): Promise<{ status: number; page: string; viaAuthorizationServer: boolean }> {
  const page = await fetch(link, { redirect: 'manual' });
  const html = await page.text();
  expect(page.status, html).toBe(200);
  expect(page.headers.get('x-frame-options')).toBe('DENY');
  expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  const csrfCookie = page.headers.getSetCookie().find((c) => c.startsWith('sb_upstream_consent='))!.split(';')[0]!;
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]+)"`).exec(html)![1]!;
  const approve = await fetch(link, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie },
    body: new URLSearchParams({ ticket: field('ticket'), csrf: field('csrf'), decision: 'approve' }),
  });
  if (approve.status === 200) return { status: 200, page: await approve.text(), viaAuthorizationServer: false };
  expect(approve.status, await approve.clone().text()).toBe(303);
  const flowCookie = approve.headers.getSetCookie().find((c) => c.startsWith('sb_upstream_oauth='))!.split(';')[0]!;
  as.setUser(user);
  const back = await as.authorize(approve.headers.get('location')!);
  expect(back.origin + back.pathname).toBe(`${edge}/v1/mcp/oauth/callback`);
  const done = await fetch(back, { headers: { cookie: flowCookie } });
  return { status: done.status, page: await done.text(), viaAuthorizationServer: true };
}

function bearerTokensSeen(upstream: ProtectedUpstream): string[] {
  return upstream.requests().map((r) => r.authorization ?? '');
}

describe('OAuth toward upstream MCP servers (the distributed suite, two connector replicas)', () => {
  let aliceKey: string;
  let aliceOtherKey: string;
  let bobKey: string;

  afterAll(() => stopSuite());
  beforeAll(async () => {
    await startDistributed();
    aliceKey = (await generateKey(suite!, { user_id: 'alice', key_alias: 'alice-laptop' })).key;
    aliceOtherKey = (await generateKey(suite!, { user_id: 'alice', key_alias: 'alice-ci' })).key;
    bobKey = (await generateKey(suite!, { user_id: 'bob', key_alias: 'bob-laptop' })).key;
  }, 180_000);

  it('client credentials: every request carries the gateway machine token, fetched once per connector replica', async () => {
    const alice = await connect(aliceKey);
    await eventually(async () => (await toolNames(alice)).includes('machine-whoami'), 30_000);
    as.resetCounters();
    for (let i = 0; i < 6; i++) {
      const result = await alice.callTool({ name: 'machine-whoami', arguments: {} });
      expect(result.isError ?? false, textOf(result)).toBe(false);
      expect(JSON.parse(textOf(result))).toMatchObject({ client_id: MACHINE_CLIENT.client_id });
    }
    // cached: at most one token per replica (a refetch ahead of expiry allowed), never one per call
    expect(as.counters().tokensIssued.client_credentials ?? 0).toBeLessThanOrEqual(4);
    const seen = bearerTokensSeen(machine);
    expect(seen.every((value) => value.startsWith('Bearer ey'))).toBe(true);
    expect(seen.some((value) => value.includes(aliceKey) || value.includes(suite!.masterKey))).toBe(false);
    expect(machine.requests().filter((r) => r.refused && r.method === 'tools/call')).toEqual([]);
  });

  it('a per-user server nobody has authorized lists an authorize tool, never nothing; its call brings the consent link', async () => {
    const bob = await connect(bobKey);
    const names = await eventually(async () => {
      const list = await toolNames(bob);
      return list.includes('personal-authorize') && list;
    }, 30_000);
    expect(names).toEqual(expect.arrayContaining(['machine-whoami', 'plain-echo', 'personal-authorize']));
    const challenge = await bob.callTool({ name: 'personal-authorize', arguments: {} });
    expect(challenge.isError).toBe(true);
    expect(consentLinkOf(challenge)).toMatch(new RegExp(`^${edge}/v1/mcp/oauth/personal/authorize\\?ticket=`));
    expect(personal.admitted('tools/call')).toEqual([]);
  });

  it('authorization code: the user connects through the consent page; their calls carry their own token, never the gateway key', async () => {
    const alice = await connect(aliceKey);
    const challenge = await alice.callTool({ name: 'personal-authorize', arguments: {} });
    const done = await consent(consentLinkOf(challenge), 'alice');
    expect(done.viaAuthorizationServer).toBe(true);
    expect(done.status, done.page).toBe(200);
    expect(done.page).toContain('connected to <strong>personal</strong>');
    // the first grant: the catalog lists the server's real tools now
    await eventually(async () => (await toolNames(alice)).includes('personal-whoami'), 30_000);

    const who = await alice.callTool({ name: 'personal-whoami', arguments: {} });
    expect(who.isError ?? false, textOf(who)).toBe(false);
    expect(JSON.parse(textOf(who)).sub).toBe('alice');
    // resources and prompts carry the same user's token
    const profile = await alice.readResource({ uri: 'user://profile' });
    expect(JSON.parse((profile.contents[0] as { text: string }).text).sub).toBe('alice');
    const prompt = await alice.getPrompt({ name: 'personal-greeting' });
    expect((prompt.messages[0]!.content as { text: string }).text).toBe('Hello, alice');

    const calls = personal.admitted('tools/call', 'whoami');
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((r) => r.sub === 'alice')).toBe(true);
    const seen = bearerTokensSeen(personal).join('\n');
    for (const secret of [aliceKey, aliceOtherKey, bobKey, suite!.masterKey]) expect(seen).not.toContain(secret);
  });

  it('consent is per client: another key of the same user must be approved before it may use the grant', async () => {
    const ci = await connect(aliceOtherKey);
    await eventually(async () => (await toolNames(ci)).includes('personal-whoami'), 30_000);
    const challenge = await ci.callTool({ name: 'personal-whoami', arguments: {} });
    expect(challenge.isError).toBe(true);
    const tokensBefore = as.counters().tokensIssued.authorization_code ?? 0;
    const done = await consent(consentLinkOf(challenge), 'alice');
    // the user holds a grant already: approving the client is all, nothing goes to the authorization server
    expect(done.viaAuthorizationServer).toBe(false);
    expect(done.page).toContain('may now use your connection');
    expect(as.counters().tokensIssued.authorization_code ?? 0).toBe(tokensBefore);
    const who = await ci.callTool({ name: 'personal-whoami', arguments: {} });
    expect(JSON.parse(textOf(who)).sub).toBe('alice');
    // a consent link is single use
    const again = await fetch(consentLinkOf(challenge));
    expect(again.status).toBe(404);
  });

  it("a user without a credential gets that server's challenge while the other servers list and call normally", async () => {
    const bob = await connect(bobKey);
    const names = await toolNames(bob);
    expect(names).toEqual(expect.arrayContaining(['personal-whoami', 'machine-whoami', 'plain-echo']));
    const challenge = await bob.callTool({ name: 'personal-whoami', arguments: {} });
    expect(challenge.isError).toBe(true);
    expect(textOf(challenge)).toContain('MCP server "personal" needs your authorization');
    expect(consentLinkOf(challenge)).toContain('/v1/mcp/oauth/personal/authorize?ticket=');
    expect(JSON.parse(textOf(await bob.callTool({ name: 'machine-whoami', arguments: {} }))).client_id).toBe(MACHINE_CLIENT.client_id);
    expect(textOf(await bob.callTool({ name: 'plain-echo', arguments: { text: 'still here' } }))).toBe('still here');
    // resources of the server are refused with the same challenge, as a JSON-RPC error
    await expect(bob.readResource({ uri: 'user://profile' })).rejects.toThrow(/needs your authorization/);
    // nothing of bob's reached the per-user upstream
    expect(personal.requests().filter((r) => r.sub === 'bob')).toEqual([]);
  });

  it('a client that declared URL elicitation gets the challenge as a URL elicitation (-32042)', async () => {
    const bob = await connect(bobKey, { elicitation: { form: {}, url: {} } });
    const error = await bob.callTool({ name: 'personal-whoami', arguments: {} }).then(
      () => undefined,
      (e: { code?: number; data?: { elicitations?: { mode: string; url: string; elicitationId: string }[] } }) => e,
    );
    expect(error?.code).toBe(-32042);
    const [elicitation] = error!.data!.elicitations!;
    expect(elicitation).toMatchObject({ mode: 'url' });
    expect(elicitation!.url).toContain(`${edge}/v1/mcp/oauth/personal/authorize?ticket=`);
  });

  it("token exchange: a caller signed in with OAuth has its own token exchanged; the upstream never sees the inbound one", async () => {
    const inbound = await as.sign({ sub: 'carol', aud: `${edge}/mcp`, scope: 'mcp:tools' });
    const carol = await connect('', {}, { authorization: `Bearer ${inbound}` });
    await eventually(async () => (await toolNames(carol)).includes('exchange-whoami'), 30_000);
    as.resetCounters();
    for (let i = 0; i < 3; i++) {
      const who = await carol.callTool({ name: 'exchange-whoami', arguments: {} });
      expect(who.isError ?? false, textOf(who)).toBe(false);
      expect(JSON.parse(textOf(who))).toEqual({ sub: 'carol', client_id: MACHINE_CLIENT.client_id });
    }
    // exchanged once per replica at most, then reused
    expect(as.counters().tokenRequests[TOKEN_EXCHANGE_GRANT]).toBeLessThanOrEqual(2);
    const calls = exchange.admitted('tools/call', 'whoami');
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(calls.every((r) => r.sub === 'carol' && r.authorization !== `Bearer ${inbound}`)).toBe(true);
    expect(exchange.requests().some((r) => r.authorization?.includes(inbound))).toBe(false);
    // an API key has no OAuth token to exchange: that server's challenge, the others as usual
    const bob = await connect(bobKey);
    const refused = await bob.callTool({ name: 'exchange-whoami', arguments: {} });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain('sign in to the gateway with OAuth');
    expect(exchange.requests().some((r) => r.authorization?.includes(bobKey))).toBe(false);
  });

  it('a user signed in with OAuth approves each app (OAuth client) on its own: another app of the same user is asked again', async () => {
    const signIn = async (app: string) => connect('', {}, { authorization: `Bearer ${await as.sign({ sub: 'frank', aud: `${edge}/mcp`, scope: 'mcp:tools', client_id: app })}` });
    const desktop = await signIn('desktop-app');
    await eventually(async () => (await toolNames(desktop)).includes('personal-whoami'), 30_000);
    const first = await desktop.callTool({ name: 'personal-whoami', arguments: {} });
    expect(first.isError).toBe(true);
    const link = consentLinkOf(first);
    expect(await (await fetch(link)).text()).toContain('desktop-app'); // the page names the app asking
    expect((await consent(link, 'frank')).viaAuthorizationServer).toBe(true);
    expect(JSON.parse(textOf(await desktop.callTool({ name: 'personal-whoami', arguments: {} }))).sub).toBe('frank');

    const ide = await signIn('ide-plugin');
    const second = await ide.callTool({ name: 'personal-whoami', arguments: {} });
    expect(second.isError).toBe(true);
    // frank holds a grant already: approving this app is all
    expect((await consent(consentLinkOf(second), 'frank')).viaAuthorizationServer).toBe(false);
    expect(JSON.parse(textOf(await ide.callTool({ name: 'personal-whoami', arguments: {} }))).sub).toBe('frank');
  });

  it('50 concurrent calls across two connector replicas with an expired token cause exactly one refresh', async () => {
    const alice = await connect(aliceKey);
    // both replicas hold a session for alice already (warm); then the token they use runs out
    personal.reset();
    const warm = await Promise.all(Array.from({ length: 10 }, () => alice.callTool({ name: 'personal-whoami', arguments: {} })));
    expect(warm.every((r) => !r.isError)).toBe(true);
    expect(new Set(personal.admitted('tools/call', 'whoami').map((r) => r.session)).size).toBe(2);
    const expiresAt = Math.max(...personal.admitted('tools/call', 'whoami').map((r) => r.exp!)) * 1000;
    // from here to the end of the calls exactly one refresh may happen: the token in use expires once in this
    // window (whoever asks first after that, a call or a catalog fetch, refreshes it; the new one outlives the window)
    as.resetCounters();
    await eventually(() => Date.now() > expiresAt + 200, (ACCESS_TOKEN_TTL_S + 5) * 1000, 50);
    personal.reset();
    const results = await Promise.all(Array.from({ length: 50 }, () => alice.callTool({ name: 'personal-whoami', arguments: {} })));
    expect(results.filter((r) => r.isError).map(textOf)).toEqual([]);
    expect(results.every((r) => JSON.parse(textOf(r)).sub === 'alice')).toBe(true);
    expect(as.counters().tokenRequests.refresh_token ?? 0).toBe(1);
    // the calls went through both replicas (one upstream session each for alice), all with the refreshed token
    const calls = personal.admitted('tools/call', 'whoami');
    expect(calls).toHaveLength(50);
    expect(new Set(calls.map((r) => r.session)).size).toBe(2);
    expect(new Set(calls.map((r) => r.jti)).size).toBe(1);
    expect(personal.requests().filter((r) => r.refused)).toEqual([]);
  });

  it('a user lists and revokes their grants over the REST API: one client first, then the whole grant, at the authorization server too', async () => {
    const del = async (key: string, path: string) => {
      const reply = await fetch(`${edge}${path}`, { method: 'DELETE', headers: keyHeaders(key) });
      return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
    };
    expect(await api(edge, bobKey, '/v1/mcp/oauth/grants')).toEqual({ grants: [] });
    const { grants } = await api(edge, aliceKey, '/v1/mcp/oauth/grants');
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ server_name: 'personal', has_token: true, scope: 'mcp:tools' });
    expect(grants[0].clients.map((c: { client_name: string }) => c.client_name)).toEqual(['alice-laptop', 'alice-ci']);
    // only an admin key names another user
    expect((await callApi(edge, bobKey, '/v1/mcp/oauth/grants?user_id=alice')).status).toBe(403);
    expect(await api(edge, suite!.masterKey, '/v1/mcp/oauth/grants?user_id=alice')).toEqual({ grants });

    // alice withdraws the CI key: it gets the challenge again, her laptop keeps working
    const ciClient = grants[0].clients.find((c: { client_name: string }) => c.client_name === 'alice-ci').client_id;
    expect(await del(aliceKey, `/v1/mcp/oauth/personal/grant?client_id=${ciClient}`)).toMatchObject({ status: 200, body: { clients_removed: 1, tokens_deleted: false } });
    const alice = await connect(aliceKey);
    const ci = await connect(aliceOtherKey);
    expect((await ci.callTool({ name: 'personal-whoami', arguments: {} })).isError).toBe(true);
    expect(JSON.parse(textOf(await alice.callTool({ name: 'personal-whoami', arguments: {} }))).sub).toBe('alice');

    // the whole grant: both connector replicas drop her token at once, the authorization server revokes it
    expect(await del(aliceKey, '/v1/mcp/oauth/personal/grant')).toMatchObject({
      status: 200,
      body: { server_name: 'personal', tokens_deleted: true, clients_removed: 1, revoked_at_authorization_server: true },
    });
    personal.reset();
    // each call gets the challenge (the catalog is listed with frank's grant now); none reaches the upstream
    const after = await Promise.all(Array.from({ length: 6 }, () => alice.callTool({ name: 'personal-whoami', arguments: {} })));
    for (const r of after) expect(consentLinkOf(r)).toContain('/v1/mcp/oauth/personal/authorize?ticket=');
    expect(personal.admitted('tools/call', 'whoami')).toEqual([]);
    expect(await api(edge, aliceKey, '/v1/mcp/oauth/grants')).toEqual({ grants: [] });

    // the master key revokes the last user's grant (frank's, through two apps): the server lists authorize again
    expect(await del(suite!.masterKey, '/v1/mcp/oauth/personal/grant?user_id=frank')).toMatchObject({ status: 200, body: { user_id: 'frank', tokens_deleted: true, clients_removed: 2 } });
    await eventually(async () => (await toolNames(alice)).includes('personal-authorize'), 30_000);

    // nothing left, no such server, a server without per-user OAuth: each said so
    expect((await del(aliceKey, '/v1/mcp/oauth/personal/grant')).status).toBe(404);
    expect((await del(aliceKey, '/v1/mcp/oauth/no_such/grant')).status).toBe(404);
    expect((await del(aliceKey, '/v1/mcp/oauth/plain/grant')).status).toBe(400);
    expect((await fetch(`${edge}/v1/mcp/oauth/grants`)).status).toBe(401);
  });

  it("the admin UI shows a key user's upstream OAuth connections, and its Revoke ends one", async () => {
    const { key, token } = await generateKey(suite!, { user_id: 'gina', key_alias: 'gina-laptop' });
    const gina = await connect(key);
    // nobody holds a grant any more (the test before revoked the last): the server lists authorize
    await eventually(async () => (await toolNames(gina)).includes('personal-authorize'), 30_000);
    expect((await consent(consentLinkOf(await gina.callTool({ name: 'personal-authorize', arguments: {} })), 'gina')).status).toBe(200);
    expect((await api(edge, key, '/v1/mcp/oauth/grants')).grants.map((g: { server_name: string }) => g.server_name)).toEqual(['personal']);

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    try {
      const page = await browser.newPage();
      await page.goto(`${edge}/ui/`);
      await page.getByLabel('API key').fill(suite!.masterKey);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('link', { name: 'Keys' }).first().waitFor();
      await page.goto(`${edge}/ui/keys/${token}`); // the key stays in this tab's sessionStorage
      const row = page.locator('[data-grant="personal"]');
      await row.waitFor();
      expect(await row.textContent()).toContain('gina-laptop');
      await page.getByRole('button', { name: 'Revoke the connection to personal' }).click();
      await page.locator('[data-no-grants]').waitFor();
    } finally {
      await browser.close();
    }
    expect(await api(edge, key, '/v1/mcp/oauth/grants')).toEqual({ grants: [] });
  });
});

describe('per-user upstream OAuth in one process (embedded database, memory stores)', () => {
  afterAll(() => stopSuite());
  beforeAll(async () => {
    personal.reset();
    suite = await startSuite({ mode: 'one-process', config: { mcp_servers: { plain: { url: plain.url, transport: 'http', allow_all_keys: true } } } });
    edge = suite.edgeUrls[0]!;
    await addPersonalServer();
  }, 180_000);

  it("the user connects and calls with their own token; another user gets the server's challenge, the other server works", async () => {
    const daveKey = (await generateKey(suite!, { user_id: 'dave' })).key;
    const erinKey = (await generateKey(suite!, { user_id: 'erin' })).key;
    const dave = await connect(daveKey);
    await eventually(async () => (await toolNames(dave)).includes('personal-authorize'), 30_000);
    const done = await consent(consentLinkOf(await dave.callTool({ name: 'personal-authorize', arguments: {} })), 'dave');
    expect(done.status, done.page).toBe(200);
    await eventually(async () => (await toolNames(dave)).includes('personal-whoami'), 30_000);
    expect(JSON.parse(textOf(await dave.callTool({ name: 'personal-whoami', arguments: {} }))).sub).toBe('dave');

    const erin = await connect(erinKey);
    expect(await toolNames(erin)).toEqual(expect.arrayContaining(['personal-whoami', 'plain-echo']));
    const challenge = await erin.callTool({ name: 'personal-whoami', arguments: {} });
    expect(challenge.isError).toBe(true);
    expect(consentLinkOf(challenge)).toContain(`${edge}/v1/mcp/oauth/personal/authorize?ticket=`);
    expect(textOf(await erin.callTool({ name: 'plain-echo', arguments: { text: 'fine' } }))).toBe('fine');
    expect(personal.requests().some((r) => r.authorization?.includes(daveKey) || r.authorization?.includes(erinKey))).toBe(false);
  });
});
