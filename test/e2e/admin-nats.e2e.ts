import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, printLogsOnFailure, startEverything, startSuite, type HttpEverything, type Suite } from './support/index.js';
import { startDeployNats, type DeployNats } from './support/nats-server.js';

// Issue 13, done-means 3: a nats.js client with only the admin NATS user's permissions (deploy/nats) manages servers
// through the public subjects and is refused by the NATS server on an internal subject. The suite's services run
// as the deploy file's services user on a nats-server started here, on a free port.

interface Reply {
  ok: boolean;
  data?: any;
  error?: { code: string; message: string; retryable: boolean; details?: Record<string, unknown> };
}

describe('the admin API on NATS, with deploy/nats permissions', () => {
  let nats: DeployNats | undefined;
  let suite: Suite | undefined;
  let upstream: HttpEverything;
  let admin: NatsConnection;

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    upstream = await startEverything('streamableHttp');
    nats = await startDeployNats();
    suite = await startSuite({ mode: 'distributed', env: { NATS_URL: nats.servicesUrl, NATS_NAMESPACE: '' } });
    admin = await connect({ ...nats.admin, inboxPrefix: '_INBOX_admin', name: 'admin-e2e' });
  });

  afterAll(async () => {
    await admin?.close().catch(() => {});
    await suite?.stop();
    await nats?.stop();
    await upstream?.stop();
  });

  /** One request on a public admin subject, as any NATS client sends it: `{meta, data}` in, `{ok, data|error}` out. */
  async function request(subject: string, data: unknown, authorization: string | null = suite!.masterKey): Promise<Reply> {
    const meta = authorization === null ? {} : { authorization: `Bearer ${authorization}` };
    const msg = await admin.request(subject, JSON.stringify({ meta, data }), { timeout: 30_000 });
    return msg.json<Reply>();
  }

  it('adds, lists, shows, tests and removes a server through sb.v1.admin.servers.*', async () => {
    const created = await request('sb.v1.admin.servers.create', { server_name: 'nats_admin_ev', url: upstream.url, transport: 'http', auth_type: 'bearer_token', auth_value: 'sk-upstream-secret-value' });
    expect(created.ok, JSON.stringify(created.error)).toBe(true);
    expect(created.data).toMatchObject({ server_name: 'nats_admin_ev', url: upstream.url, transport: 'http', source: 'api' });
    expect(created.data.auth_value).not.toBe('sk-upstream-secret-value'); // masked, as on REST

    const listed = await request('sb.v1.admin.servers.list', {});
    expect(listed.data.servers.map((s: { server_name: string }) => s.server_name)).toContain('nats_admin_ev');

    const shown = await request('sb.v1.admin.servers.get', { server: 'nats_admin_ev' });
    expect(shown.data.server_id).toBe(created.data.server_id);

    const tested = await request('sb.v1.admin.servers.test', { server: 'nats_admin_ev' });
    expect(tested.ok, JSON.stringify(tested.error)).toBe(true);
    expect(tested.data).toMatchObject({ server_name: 'nats_admin_ev', status: 'healthy', error: null });
    expect(tested.data.tools).toContain('echo');

    const removed = await request('sb.v1.admin.servers.delete', { server: created.data.server_id });
    expect(removed.data).toEqual({ server_id: created.data.server_id, server_name: 'nats_admin_ev', deleted: true });
    const after = await request('sb.v1.admin.servers.list', {});
    expect(after.data.servers.map((s: { server_name: string }) => s.server_name)).not.toContain('nats_admin_ev');
  });

  it('checks the credential in meta.authorization as REST does, and names a bad field', async () => {
    const missing = await request('sb.v1.admin.servers.list', {}, null);
    expect(missing).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    // the credential is checked before the body: without one, a bad body is still UNAUTHENTICATED
    const missingWithBadBody = await request('sb.v1.admin.servers.create', { server_name: 'Bad Name' }, null);
    expect(missingWithBadBody).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    const unknown = await request('sb.v1.admin.servers.list', {}, 'sk-not-a-key-of-this-gateway-000000000');
    expect(unknown).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });

    const plain = await generateKey(suite!, { key_alias: 'nats-plain' });
    const denied = await request('sb.v1.admin.keys.list', {}, plain.key);
    expect(denied).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } });

    const adminKey = await generateKey(suite!, { key_alias: 'nats-admin', is_admin: true });
    const created = await request('sb.v1.admin.keys.create', { key_alias: 'made-over-nats' }, adminKey.key);
    expect(created.ok, JSON.stringify(created.error)).toBe(true);
    expect(created.data.key).toMatch(/^sk-/);
    const deleted = await request('sb.v1.admin.keys.delete', { key_aliases: ['made-over-nats'] }, adminKey.key);
    expect(deleted.data.deleted_keys).toHaveLength(1);

    const bad = await request('sb.v1.admin.servers.create', { server_name: 'bad_url', url: 'ftp://example.com/mcp' });
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(bad.error!.message).toMatch(/^url: /);

    // permissions explain takes a key or a token: exactly one, and a token only where JWT auth is on
    const explained = await request('sb.v1.admin.permissions.explain', { key: 'nats-admin' });
    expect(explained.ok, JSON.stringify(explained.error)).toBe(true);
    expect(explained.data.key).toMatchObject({ key_alias: 'nats-admin' });
    expect(await request('sb.v1.admin.permissions.explain', {})).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^key: required/) } });
    expect(await request('sb.v1.admin.permissions.explain', { token: 'an-opaque-token' })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/JWT auth is off/) } });
  });

  it('is refused by the NATS server on internal subjects', async () => {
    // The registry answers this subject for the services' user; the admin user may not even publish to it.
    await expect(request('sb.v1.registry.servers.list', {})).rejects.toThrow(/Permissions Violation for Publish to "sb\.v1\.registry\.servers\.list"/);
    await expect(request('sb.v1.auth.keys.verify', { key: suite!.masterKey })).rejects.toThrow(/Permissions Violation for Publish/);
    await expect(request('sb.v1.connector.upstream.request', { server_id: 'x', method: 'tools/list' })).rejects.toThrow(/Permissions Violation for Publish/);

    // nor listen to the services' subjects or to their replies
    for (const subject of ['sb.>', '_INBOX.>']) {
      const sub = admin.subscribe(subject);
      await expect(sub.closed).resolves.toMatchObject({ message: expect.stringMatching(/Permissions Violation for Subscription/) });
    }

    // and the connection stays usable for the public subjects
    const listed = await request('sb.v1.admin.servers.list', {});
    expect(listed.ok).toBe(true);
  });
});
