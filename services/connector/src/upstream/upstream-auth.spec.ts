import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessBus } from '#libs/bus';
import { DomainError, GetUpstreamToken, type McpServerRuntime, type ReplyOf } from '#libs/contracts';
import { waitFor } from '#libs/testing';
import { startAuthorizationServer, TOKEN_EXCHANGE_GRANT, type AuthorizationServer } from '../../../../test/fixtures/authorization-server.js';
import { challengeFor, FOR_CATALOG, UpstreamAuth, UpstreamAuthorizationRequired, URL_ELICITATION_REQUIRED } from './upstream-auth.js';

// UpstreamAuth against the test authorization server: machine tokens (cached, fetched again ahead of expiry, one
// request however many callers), RFC 8693 token exchange of the caller's own token, and per-user tokens from the
// registry (a stub answering GetUpstreamToken on an in-process bus) with the challenge a user without one gets.

const UPSTREAM_URL = 'http://127.0.0.1:9/mcp';
const MACHINE = { client_id: 'gateway', client_secret: 'gateway-secret-0123456789' };
const TTL_S = 2;

let as: AuthorizationServer;
let bus: InProcessBus;
let auth: UpstreamAuth;
const deadline = () => Date.now() + 10_000;

function server(fields: Partial<McpServerRuntime>): McpServerRuntime {
  return {
    server_id: `s-${Math.random().toString(16).slice(2)}`,
    server_name: 'upstream',
    transport: 'http',
    url: UPSTREAM_URL,
    command: null,
    args: [],
    env: {},
    auth_type: 'oauth2',
    auth_value: null,
    static_headers: {},
    extra_headers: [],
    timeout: null,
    max_concurrent_requests: null,
    spec_version: null,
    revision: 'r1',
    client_id: MACHINE.client_id,
    client_secret: MACHINE.client_secret,
    token_url: as.tokenEndpoint,
    scopes: ['mcp:tools'],
    ...fields,
  };
}

const bearer = (authorization: { headers?: Record<string, string> }) => authorization.headers!.authorization!.replace(/^Bearer /, '');

beforeAll(async () => {
  as = await startAuthorizationServer({ scopes: ['mcp:tools'], ttl: { accessToken: TTL_S }, tokenExchange: true, clients: [{ ...MACHINE }] });
  bus = new InProcessBus();
  auth = new UpstreamAuth(bus);
});

afterAll(async () => {
  await bus?.close();
  await as?.close();
});

describe('machine tokens (oauth2_flow client_credentials)', () => {
  it('fetches one token for 20 concurrent callers, for the server URL as resource, and reuses it', async () => {
    const machine = server({ oauth2_flow: 'client_credentials' });
    as.resetCounters();
    const results = await Promise.all(Array.from({ length: 20 }, () => auth.authorize(machine, undefined, deadline())));
    expect(new Set(results.map(bearer)).size).toBe(1);
    expect(results[0]!.shared).toBe(true);
    expect(as.counters().tokensIssued.client_credentials).toBe(1);
    expect(decodeJwt(bearer(results[0]!))).toMatchObject({ aud: UPSTREAM_URL, client_id: MACHINE.client_id, scope: 'mcp:tools' });
    await auth.authorize(machine, FOR_CATALOG, deadline());
    expect(as.counters().tokensIssued.client_credentials).toBe(1);
  });

  it('fetches a new token ahead of expiry', async () => {
    const machine = server({ oauth2_flow: 'client_credentials' });
    const asked = Date.now();
    const first = bearer(await auth.authorize(machine, undefined, deadline()));
    await waitFor(async () => bearer(await auth.authorize(machine, undefined, deadline())) !== first, TTL_S * 1000 + 2_000);
    // the new one came before the old one ran out (it was given TTL_S seconds when it was asked for, or later)
    expect(Date.now()).toBeLessThan(asked + TTL_S * 1000);
  });

  it('a token the upstream refused (401) is replaced at once', async () => {
    const machine = server({ oauth2_flow: 'client_credentials' });
    const first = await auth.authorize(machine, undefined, deadline());
    as.resetCounters();
    const renewed = await auth.renew(machine, undefined, first, deadline());
    expect(bearer(renewed)).not.toBe(bearer(first));
    expect(as.counters().tokensIssued.client_credentials).toBe(1);
    expect(bearer(await auth.authorize(machine, undefined, deadline()))).toBe(bearer(renewed));
  });

  it('a refused client gets no token, and the next call asks again', async () => {
    const machine = server({ oauth2_flow: 'client_credentials', client_secret: 'wrong-secret-0123456789' });
    await expect(auth.authorize(machine, undefined, deadline())).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    as.resetCounters();
    await expect(auth.authorize(machine, undefined, deadline())).rejects.toThrow(/invalid_client/);
    expect(as.counters().tokenRequests.client_credentials).toBe(1);
  });
});

describe('token exchange (auth_type oauth2_token_exchange, RFC 8693)', () => {
  const exchange = () => server({ auth_type: 'oauth2_token_exchange', token_url: null, token_exchange_endpoint: as.tokenEndpoint, audience: UPSTREAM_URL });

  it("exchanges the caller's own token for one of the server, once per subject token", async () => {
    const target = exchange();
    const subject = await as.sign({ sub: 'carol', aud: 'http://127.0.0.1:4000/mcp' });
    as.resetCounters();
    const caller = { user_id: 'carol', client_id: 'c1', subject_token: subject };
    const [a, b] = await Promise.all([auth.authorize(target, caller, deadline()), auth.authorize(target, caller, deadline())]);
    expect(bearer(a)).toBe(bearer(b));
    expect(bearer(a)).not.toBe(subject);
    expect(decodeJwt(bearer(a))).toMatchObject({ sub: 'carol', aud: UPSTREAM_URL, act: { sub: MACHINE.client_id } });
    expect(a.user).toBe('carol');
    expect(as.counters().tokenRequests[TOKEN_EXCHANGE_GRANT]).toBe(1);
    const other = await auth.authorize(target, { user_id: 'dave', client_id: 'c2', subject_token: await as.sign({ sub: 'dave' }) }, deadline());
    expect(decodeJwt(bearer(other)).sub).toBe('dave');
    expect(as.counters().tokenRequests[TOKEN_EXCHANGE_GRANT]).toBe(2);
  });

  it('a caller without an OAuth token of its own (an API key) gets the challenge; the catalog uses the machine token', async () => {
    const target = exchange();
    await expect(auth.authorize(target, { user_id: 'erin', client_id: 'c3' }, deadline())).rejects.toThrow(/sign in to the gateway with OAuth/);
    const catalog = await auth.authorize(target, FOR_CATALOG, deadline());
    expect(decodeJwt(bearer(catalog))).toMatchObject({ client_id: MACHINE.client_id, aud: UPSTREAM_URL });
  });

  it('a subject token the authorization server refuses is the caller’s challenge, not an outage', async () => {
    const forged = `${(await as.sign({ sub: 'mallory' })).slice(0, -4)}AAAA`;
    const error = await auth.authorize(exchange(), { user_id: 'mallory', client_id: 'c4', subject_token: forged }, deadline()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamAuthorizationRequired);
  });
});

describe('per-user tokens (oauth2_flow authorization_code)', () => {
  let answer: ReplyOf<typeof GetUpstreamToken>;
  let asked = 0;
  let lastRequest: Record<string, unknown> = {};
  let stop: () => void;
  beforeAll(() => {
    stop = bus.serve(GetUpstreamToken, 'registry', async (request) => {
      asked++;
      lastRequest = request as Record<string, unknown>;
      return answer;
    });
  });
  afterAll(() => stop());

  const personal = () => server({ oauth2_flow: 'authorization_code', server_name: 'personal' });
  const alice = { user_id: 'alice', client_id: 'key-hash-a', client_name: 'laptop', gateway_url: 'http://gw.example:4000' };

  it("asks the registry once for 20 concurrent calls of one user and sends that user's token", async () => {
    answer = { status: 'ok', access_token: 'alice-token', token_type: 'bearer', expires_at: new Date(Date.now() + 3_600_000).toISOString(), user_id: 'alice' };
    asked = 0;
    const target = personal();
    const results = await Promise.all(Array.from({ length: 20 }, () => auth.authorize(target, alice, deadline())));
    expect(results.every((r) => r.headers!.authorization === 'Bearer alice-token' && r.user === 'alice' && !r.shared)).toBe(true);
    expect(asked).toBe(1);
  });

  it("a user token the upstream refused is refreshed at the registry now, naming the refused token's hash", async () => {
    const target = personal();
    answer = { status: 'ok', access_token: 'old-token', token_type: 'Bearer', expires_at: new Date(Date.now() + 3_600_000).toISOString(), user_id: 'alice' };
    const old = await auth.authorize(target, alice, deadline());
    answer = { ...answer, access_token: 'new-token' };
    const renewed = await auth.renew(target, alice, old, deadline());
    expect(renewed.headers!.authorization).toBe('Bearer new-token');
    expect(lastRequest.rejected_token).toBe(createHash('sha256').update('old-token').digest('hex'));
    expect((await auth.authorize(target, alice, deadline())).headers!.authorization).toBe('Bearer new-token');
  });

  it('a request that names no user is challenged, never served with another user’s token', async () => {
    const error = await auth.authorize(personal(), undefined, deadline()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamAuthorizationRequired);
    expect((error as UpstreamAuthorizationRequired).consentUrl).toBeUndefined();
  });

  it('a user without a credential gets a consent link; tools/call answers it as a tool error or a URL elicitation', async () => {
    answer = { status: 'authorization_required', reason: 'no_credential', ticket: 'T'.repeat(32) };
    const error = (await auth.authorize(personal(), alice, deadline()).catch((e: unknown) => e)) as UpstreamAuthorizationRequired;
    expect(error).toBeInstanceOf(UpstreamAuthorizationRequired);
    expect(error.consentUrl).toBe(`http://gw.example:4000/v1/mcp/oauth/personal/authorize?ticket=${'T'.repeat(32)}`);

    const asResult = challengeFor(error, 'tools/call', { session_id: 's', capabilities: { elicitation: {} }, dedicated: false });
    expect(asResult).not.toBeInstanceOf(DomainError);
    expect((asResult as { result: { isError: boolean; content: { text: string }[] } }).result).toMatchObject({ isError: true });
    expect((asResult as { result: { content: { text: string }[] } }).result.content[0]!.text).toContain(error.consentUrl);

    const asElicitation = challengeFor(error, 'tools/call', { session_id: 's', capabilities: { elicitation: { url: {} } }, dedicated: false }) as DomainError;
    expect(asElicitation.details).toMatchObject({ jsonrpc_code: URL_ELICITATION_REQUIRED, data: { elicitations: [{ mode: 'url', url: error.consentUrl }] } });

    const onRead = challengeFor(error, 'resources/read', undefined) as DomainError;
    expect(onRead.details).toMatchObject({ data: { authorization_url: error.consentUrl } });
  });
});
