import { createHash, randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessBus } from '#libs/bus';
import { deleteRedisKeys, openStores, type Stores } from '#libs/cache';
import { DomainError, UpstreamCredentialChanged, type PayloadOf, type ReplyOf, type GetUpstreamToken } from '#libs/contracts';
import { openTestDatabase, TEST_REDIS_URL, uniqueId, waitFor, type TestDatabase } from '#libs/testing';
import { startAuthorizationServer, type AuthorizationServer } from '../../../../test/fixtures/authorization-server.js';
import type { CatalogService } from '../catalog/catalog.service.js';
import { openRegistryDatabase } from '../database.js';
import { CredentialCipher } from '../servers/credential-cipher.js';
import { definitionFromSpec } from '../servers/server-definition.js';
import { ServerRepository } from '../servers/server.repository.js';
import { UpstreamPolicy } from '../servers/upstream-policy.js';
import { CredentialVault } from './credential-vault.js';
import { UpstreamOAuthService } from './upstream-oauth.service.js';

// Two registry replicas (each its own database connection and Redis connection, one Postgres and one Redis) and
// the test authorization server: the consent flow end to end at the service level, and a refresh done once
// however many calls wait on either replica.

const TTL_S = 5;
const REDIRECT = 'http://127.0.0.1:4000/v1/mcp/oauth/callback';
const CLIENT = { client_id: 'gateway-web', client_secret: 'gateway-web-secret-0123', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'] as ('authorization_code' | 'refresh_token')[] };

interface Replica {
  dataSource: DataSource;
  stores: Stores;
  service: UpstreamOAuthService;
  vault: CredentialVault;
}

describe('per-user upstream OAuth in the registry (Postgres, Redis, two replicas)', () => {
  let as: AuthorizationServer;
  let database: TestDatabase;
  const prefix = `${uniqueId('sbtest_')}:`;
  const cipher = new CredentialCipher('test-salt-key');
  const bus = new InProcessBus();
  const replicas: Replica[] = [];
  let serverId: string;
  const alice = { user_id: 'alice', client_id: 'key-a', client_name: 'laptop' };
  const hash = (value: string) => createHash('sha256').update(value).digest('hex');

  async function replica(): Promise<Replica> {
    const dataSource = await openRegistryDatabase(database.target);
    const stores = openStores({ redisUrl: TEST_REDIS_URL, prefix });
    const vault = new CredentialVault(dataSource, cipher);
    const policy = new UpstreamPolicy({ seedServers: {} });
    const catalog = { invalidate: async () => undefined } as unknown as CatalogService;
    return { dataSource, stores, vault, service: new UpstreamOAuthService(new ServerRepository(dataSource, cipher), vault, stores.kv, bus, policy, catalog) };
  }

  /** The user's side: approve on the consent page, sign in at the authorization server, come back. */
  async function authorize(service: UpstreamOAuthService, ticket: string, user = 'alice', binding = randomBytes(16).toString('hex')) {
    const approved = await service.approve({ ticket, server: 'personal', browser_binding: hash(binding), redirect_uri: REDIRECT });
    if (approved.kind !== 'redirect') return approved;
    as.setUser(user);
    const back = await as.authorize(approved.url);
    return service.complete({ callback_url: back.href, browser_binding: hash(binding) });
  }

  const ok = (reply: ReplyOf<typeof GetUpstreamToken>) => {
    if (reply.status !== 'ok') throw new Error(`expected a token, got ${JSON.stringify(reply)}`);
    return reply;
  };

  beforeAll(async () => {
    as = await startAuthorizationServer({ scopes: ['mcp:tools'], ttl: { accessToken: TTL_S }, clients: [CLIENT] });
    database = await openTestDatabase('postgres');
    replicas.push(await replica(), await replica());
    const record = await new ServerRepository(replicas[0]!.dataSource, cipher).insert(
      definitionFromSpec('personal', {
        url: 'http://127.0.0.1:9/mcp',
        transport: 'http',
        args: [],
        env: {},
        auth_type: 'oauth2',
        oauth2_flow: 'authorization_code',
        client_id: CLIENT.client_id,
        client_secret: CLIENT.client_secret,
        issuer: as.issuer,
        scopes: ['mcp:tools'],
        static_headers: {},
        extra_headers: [],
        access_groups: [],
        allow_all_keys: true,
      }),
      'api',
    );
    serverId = record.id;
  });

  afterAll(async () => {
    for (const r of replicas) {
      await r.dataSource.destroy();
      await r.stores.close();
    }
    await deleteRedisKeys(TEST_REDIS_URL, prefix);
    await database?.close();
    await bus.close();
    await as?.close();
  });

  it('a user without a grant gets a ticket; approving and signing in stores an encrypted grant only that client may use', async () => {
    const [a, b] = replicas;
    const first = await a!.service.token({ server_id: serverId, user: alice });
    expect(first).toMatchObject({ status: 'authorization_required', reason: 'no_credential' });
    // the catalog has no one's token yet
    expect(await b!.service.token({ server_id: serverId })).toEqual({ status: 'authorization_required', reason: 'no_credential' });

    // the consent page may be shown by any replica, and the flow completed on the other
    const ticket = (first as { ticket: string }).ticket;
    expect(await b!.service.describe({ ticket, server: 'personal' })).toMatchObject({ user_id: 'alice', client_name: 'laptop', has_credential: false, authorization_origin: new URL(as.issuer).origin });
    const done = await authorize(b!.service, ticket);
    expect(done).toEqual({ server_name: 'personal', user_id: 'alice' });

    const token = ok(await a!.service.token({ server_id: serverId, user: alice }));
    expect(token.user_id).toBe('alice');
    // at rest the tokens are ciphertext
    const [row] = (await a!.dataSource.query(`SELECT access_token, refresh_token FROM mcp_upstream_credentials WHERE server_id = $1`, [serverId])) as { access_token: string; refresh_token: string }[];
    expect(row!.access_token.startsWith('enc:v1:')).toBe(true);
    expect(row!.access_token).not.toContain(token.access_token.slice(0, 20));
    expect(row!.refresh_token.startsWith('enc:v1:')).toBe(true);

    // the same user through another client: not approved yet
    expect(await a!.service.token({ server_id: serverId, user: { ...alice, client_id: 'key-b' } })).toMatchObject({ status: 'authorization_required', reason: 'client_not_approved' });
    // the catalog now lists with the latest grant
    expect(ok(await b!.service.token({ server_id: serverId })).user_id).toBe('alice');
  });

  it('a ticket and an authorization state are single use, and the callback must come from the approving browser', async () => {
    const [a, b] = replicas;
    const { ticket } = (await a!.service.token({ server_id: serverId, user: { user_id: 'bob', client_id: 'key-c' } })) as { ticket: string };
    const approved = await a!.service.approve({ ticket, server: 'personal', browser_binding: hash('browser-1'), redirect_uri: REDIRECT });
    await expect(b!.service.approve({ ticket, server: 'personal', browser_binding: hash('browser-1'), redirect_uri: REDIRECT })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(approved.kind).toBe('redirect');
    as.setUser('bob');
    const back = await as.authorize((approved as { url: string }).url);
    await expect(b!.service.complete({ callback_url: back.href, browser_binding: hash('another browser') })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    // the state was used up by that attempt: the right browser must start again
    await expect(a!.service.complete({ callback_url: back.href, browser_binding: hash('browser-1') })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await a!.service.token({ server_id: serverId, user: { user_id: 'bob', client_id: 'key-c' } })).toMatchObject({ reason: 'no_credential' });
  });

  it('50 concurrent requests on two replicas for an expired token: one refresh at the authorization server, one token for all', async () => {
    const before = ok(await replicas[0]!.service.token({ server_id: serverId, user: alice }));
    const expiresAt = Date.parse(before.expires_at!);
    as.resetCounters();
    await waitFor(() => Date.now() > expiresAt, TTL_S * 1000 + 2_000);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => replicas[i % 2]!.service.token({ server_id: serverId, user: alice })));
    expect(answers.every((a) => a.status === 'ok')).toBe(true);
    expect(new Set(answers.map((a) => ok(a).access_token)).size).toBe(1);
    expect(ok(answers[0]!).access_token).not.toBe(before.access_token);
    expect(as.counters().tokenRequests.refresh_token).toBe(1);
    expect(Date.parse(ok(answers[0]!).expires_at!)).toBeGreaterThan(Date.now());
  });

  it('a token an upstream refused is refreshed at once, once for concurrent reports of it', async () => {
    const current = ok(await replicas[0]!.service.token({ server_id: serverId, user: alice }));
    const rejected = hash(current.access_token);
    as.resetCounters();
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => replicas[i % 2]!.service.token({ server_id: serverId, user: alice, rejected_token: rejected })));
    expect(new Set(answers.map((a) => ok(a).access_token)).size).toBe(1);
    expect(ok(answers[0]!).access_token).not.toBe(current.access_token);
    expect(as.counters().tokenRequests.refresh_token).toBe(1);
    // a report naming a token that is no longer the stored one changes nothing
    expect(ok(await replicas[1]!.service.token({ server_id: serverId, user: alice, rejected_token: rejected })).access_token).toBe(ok(answers[0]!).access_token);
    expect(as.counters().tokenRequests.refresh_token).toBe(1);
  });

  it('a refresh the authorization server refuses drops the grant: the user is asked again', async () => {
    const [a] = replicas;
    const stored = (await a!.vault.get(serverId, 'alice'))!;
    const revoked = await fetch(`${as.issuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${CLIENT.client_id}:${CLIENT.client_secret}`).toString('base64')}` },
      body: new URLSearchParams({ token: stored.refresh_token!, token_type_hint: 'refresh_token' }),
    });
    expect(revoked.status).toBe(200);
    await waitFor(() => Date.now() > stored.expires_at!.getTime(), TTL_S * 1000 + 2_000);
    const reply = await a!.service.token({ server_id: serverId, user: alice });
    expect(reply).toMatchObject({ status: 'authorization_required', reason: 'refresh_failed' });
    expect(await a!.vault.get(serverId, 'alice')).toBeNull();
  });

  it("a user's grants are listed without tokens; withdrawing one client keeps the others, revoking the grant ends it at the authorization server too", async () => {
    const [a, b] = replicas;
    const changes: PayloadOf<typeof UpstreamCredentialChanged>[] = [];
    const stop = bus.subscribe(UpstreamCredentialChanged, (p) => void changes.push(p));
    try {
      const laptop = { user_id: 'carol', client_id: 'key-d', client_name: 'laptop' };
      const phone = { user_id: 'carol', client_id: 'key-e', client_name: 'phone' };
      const first = (await a!.service.token({ server_id: serverId, user: laptop })) as { ticket: string };
      expect(await authorize(a!.service, first.ticket, 'carol')).toEqual({ server_name: 'personal', user_id: 'carol' });
      const second = (await b!.service.token({ server_id: serverId, user: phone })) as { ticket: string };
      expect(await authorize(b!.service, second.ticket, 'carol')).toEqual({ kind: 'done', server_name: 'personal' });
      ok(await a!.service.token({ server_id: serverId, user: phone }));

      const { grants } = await b!.service.grants({ user_id: 'carol' });
      expect(grants).toEqual([
        {
          server_id: serverId,
          server_name: 'personal',
          has_token: true,
          scope: 'mcp:tools',
          expires_at: expect.any(String),
          authorized_at: expect.any(String),
          clients: [expect.objectContaining({ client_id: 'key-d', client_name: 'laptop' }), expect.objectContaining({ client_id: 'key-e', client_name: 'phone' })],
        },
      ]);
      expect(JSON.stringify(grants)).not.toContain(ok(await a!.service.token({ server_id: serverId, user: laptop })).access_token);

      // one client withdrawn: that client is asked to approve again, the other keeps the grant
      expect(await a!.service.revoke({ server: 'personal', user_id: 'carol', client_id: 'key-e' })).toEqual({
        server_name: 'personal',
        user_id: 'carol',
        tokens_deleted: false,
        clients_removed: 1,
        revoked_at_authorization_server: null,
      });
      expect(await b!.service.token({ server_id: serverId, user: phone })).toMatchObject({ status: 'authorization_required', reason: 'client_not_approved' });
      ok(await b!.service.token({ server_id: serverId, user: laptop }));

      // the whole grant: gone from the vault, revoked at the authorization server, connectors told
      const stored = (await a!.vault.get(serverId, 'carol'))!;
      expect(await b!.service.revoke({ server: 'personal', user_id: 'carol' })).toEqual({
        server_name: 'personal',
        user_id: 'carol',
        tokens_deleted: true,
        clients_removed: 1,
        revoked_at_authorization_server: true,
      });
      expect(changes.filter((c) => c.user_id === 'carol' && c.change === 'deleted')).toHaveLength(2);
      expect(await a!.service.token({ server_id: serverId, user: laptop })).toMatchObject({ status: 'authorization_required', reason: 'no_credential' });
      expect(await a!.service.grants({ user_id: 'carol' })).toEqual({ grants: [] });
      const refresh = await fetch(`${as.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${CLIENT.client_id}:${CLIENT.client_secret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stored.refresh_token! }),
      });
      expect(refresh.status).toBe(400);
      expect(((await refresh.json()) as { error: string }).error).toBe('invalid_grant');

      // nothing left to revoke, and no other user's grant to touch
      await expect(a!.service.revoke({ server: 'personal', user_id: 'carol' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(a!.service.revoke({ server: 'personal', user_id: 'carol', client_id: 'key-d' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      stop();
    }
  });

  it('refuses servers that are not per-user OAuth servers', async () => {
    const error = await replicas[0]!.service.token({ server_id: 'no-such-server' }).catch((e: unknown) => e);
    expect(DomainError.is(error, 'NOT_FOUND')).toBe(true);
  });
});
