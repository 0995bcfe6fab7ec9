import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MODES,
  api,
  callApi,
  connectClient,
  connectClientWithHeaders,
  eventually,
  generateKey,
  keyHeaders,
  printLogsOnFailure,
  rawInitialize,
  startCountingServer,
  startEverything,
  startSuite,
  textOf,
  toolNames,
  waitForAudit,
  type CountingServer,
  type Suite,
} from './support/index.js';

// Issue 3, done-means 2: an organization, teams and keys created through the REST API; what each key lists and
// may call on /mcp, checked with the official MCP client. A tool the key cannot list is refused with a JSON-RPC
// error and never reaches the upstream (the counting fixtures count every tools/call they receive).
//
// Servers: alpha (access group dev) and beta (access group ops, allowed_tools echo+add) are counting fixtures;
// open is server-everything over stdio with allow_all_keys and disallowed_tools get-env.

const ALPHA_TOOLS = ['echo', 'add', 'slow', 'fail', 'whoami', 'touch_tools'].map((t) => `alpha-${t}`);
const BETA_TOOLS = ['beta-echo', 'beta-add'];
const sorted = (names: string[]) => [...names].sort();

describe.each(MODES)('%s', (mode) => {
  let suite: Suite | undefined;
  let alpha: CountingServer;
  let beta: CountingServer;
  const clients: Client[] = [];

  /** open-* tools as the master key lists them (server-everything's tools minus get-env). */
  let OPEN_TOOLS: string[] = [];

  const ids = { org: '', teamFree: '', teamOps: '', teamInOrg: '', teamTools: '' };

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    [alpha, beta] = await Promise.all([startCountingServer(), startCountingServer()]);
    const stdio = await startEverything('stdio');
    suite = await startSuite({
      mode,
      config: {
        mcp_servers: {
          alpha: { url: alpha.url, transport: 'http', access_groups: ['dev'] },
          beta: { url: beta.url, transport: 'http', access_groups: ['ops'], allowed_tools: ['echo', 'add'] },
          open: { transport: 'stdio', command: stdio.command, args: stdio.args, allow_all_keys: true, disallowed_tools: ['get-env'] },
        },
      },
    });
    // Wait until the catalog holds every server's tools.
    const master = await client(suite.masterKey);
    OPEN_TOOLS = await eventually(async () => {
      const names = await toolNames(master);
      const open = names.filter((n) => n.startsWith('open-'));
      return names.includes('alpha-echo') && names.includes('beta-echo') && open.includes('open-echo') && open;
    }, 30_000);

    const base = suite.edgeUrls[0]!;
    const m = suite.masterKey;
    ids.org = (await api(base, m, '/organization/new', { organization_alias: 'org-dev', object_permission: { mcp_access_groups: ['dev'] } })).organization_id;
    ids.teamFree = (await api(base, m, '/team/new', { team_alias: 'team-free' })).team_id;
    ids.teamOps = (await api(base, m, '/team/new', { team_alias: 'team-ops', object_permission: { mcp_access_groups: ['ops'] } })).team_id;
    ids.teamInOrg = (
      await api(base, m, '/team/new', {
        team_alias: 'team-in-org',
        organization_id: ids.org,
        object_permission: { mcp_servers: ['alpha', 'beta'], mcp_tool_permissions: { alpha: ['echo', 'add'] } },
      })
    ).team_id;
    ids.teamTools = (
      await api(base, m, '/team/new', { team_alias: 'team-tools', object_permission: { mcp_servers: ['alpha'], mcp_tool_permissions: { alpha: ['echo', 'slow'] } } })
    ).team_id;
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await suite?.stop();
    await Promise.allSettled([alpha?.stop(), beta?.stop()]);
  });

  async function client(key: string, path = '/mcp', headers?: Record<string, string>): Promise<Client> {
    const url = `${suite!.edgeUrls[0]}${path}`;
    const c = headers ? await connectClientWithHeaders(url, key, headers) : await connectClient(url, key);
    clients.push(c);
    return c;
  }

  /** Calls `tool` and expects the JSON-RPC "Unknown tool" error, with neither fixture receiving a tools/call. */
  async function expectRefused(c: Client, tool: string, args: Record<string, unknown> = { text: 'x' }): Promise<void> {
    const before = await Promise.all([alpha.stats(), beta.stats()]);
    await expect(c.callTool({ name: tool, arguments: args })).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('Unknown tool') });
    const after = await Promise.all([alpha.stats(), beta.stats()]);
    expect(after[0].toolsCall - before[0].toolsCall, `alpha received a tools/call for ${tool}`).toBe(0);
    expect(after[1].toolsCall - before[1].toolsCall, `beta received a tools/call for ${tool}`).toBe(0);
  }

  /** Calls echo on a counting fixture through the gateway and checks it reached that fixture once. */
  async function expectEcho(c: Client, tool: string, fixture: CountingServer): Promise<void> {
    const before = await fixture.stats();
    const result = await c.callTool({ name: tool, arguments: { text: `via ${tool}` } });
    expect(result.isError ?? false, JSON.stringify(result)).toBe(false);
    expect(textOf(result)).toBe(`via ${tool}`);
    expect((await fixture.stats()).toolsCall - before.toolsCall).toBe(1);
  }

  describe('what each key lists and may call on /mcp', () => {
    it('master key: every server, with each server’s own allowed/disallowed tools applied', async () => {
      const c = await client(suite!.masterKey);
      const names = await toolNames(c);
      expect(sorted(names)).toEqual(sorted([...ALPHA_TOOLS, ...BETA_TOOLS, ...OPEN_TOOLS]));
      expect(OPEN_TOOLS).not.toContain('open-get-env'); // disallowed_tools
      expect(OPEN_TOOLS.length).toBeGreaterThan(3);
      expect(names).not.toContain('beta-slow'); // not in beta's allowed_tools
      await expectEcho(c, 'alpha-echo', alpha);
      await expectEcho(c, 'beta-echo', beta);
      // The server's own filter binds the master key too: refused before the upstream.
      await expectRefused(c, 'beta-slow', { ms: 1 });
      await expect(c.callTool({ name: 'open-get-env', arguments: {} })).rejects.toMatchObject({ code: -32602 });
    });

    it('a key with no level set: only allow_all_keys servers; a call to alpha never reaches alpha', async () => {
      const { key, key_alias } = await generateKey(suite!, { key_alias: 'no-levels' });
      const c = await client(key);
      expect(sorted(await toolNames(c))).toEqual(sorted(OPEN_TOOLS));
      const echo = await c.callTool({ name: 'open-echo', arguments: { message: 'hi' } });
      expect(textOf(echo)).toBe('Echo: hi');
      await expectRefused(c, 'alpha-echo');
      // The refusal and the success are both audited (the audit is written in batches).
      const denied = await waitForAudit(suite!, { key_alias: key_alias!, status: 'denied' });
      expect(denied[0]).toMatchObject({ key_alias: 'no-levels', server_name: 'alpha', tool: 'echo', status: 'denied' });
      expect(denied[0].token_hash_prefix).toMatch(/^[0-9a-f]{8}$/);
      const success = await waitForAudit(suite!, { key_alias: key_alias!, status: 'success' });
      expect(success[0]).toMatchObject({ server_name: 'open', tool: 'echo', status: 'success' });
    });

    it('a key in a team without object_permission: the unset team adds no restriction', async () => {
      const none = await generateKey(suite!, { team_id: ids.teamFree });
      expect(sorted(await toolNames(await client(none.key)))).toEqual(sorted(OPEN_TOOLS));
      const keyed = await generateKey(suite!, { team_id: ids.teamFree, object_permission: { mcp_servers: ['alpha'] } });
      const c = await client(keyed.key);
      expect(sorted(await toolNames(c))).toEqual(sorted([...ALPHA_TOOLS, ...OPEN_TOOLS]));
      await expectEcho(c, 'alpha-echo', alpha);
    });

    it('key-level mcp_servers: exactly the servers named (plus allow_all_keys ones)', async () => {
      const { key } = await generateKey(suite!, { object_permission: { mcp_servers: ['alpha'] } });
      const c = await client(key);
      expect(sorted(await toolNames(c))).toEqual(sorted([...ALPHA_TOOLS, ...OPEN_TOOLS]));
      await expectEcho(c, 'alpha-echo', alpha);
      await expectRefused(c, 'beta-echo');
    });

    it('key-level access group: every server of the group, with the server’s allowed_tools on top', async () => {
      const { key } = await generateKey(suite!, { object_permission: { mcp_access_groups: ['ops'] } });
      const c = await client(key);
      expect(sorted(await toolNames(c))).toEqual(sorted([...BETA_TOOLS, ...OPEN_TOOLS]));
      await expectEcho(c, 'beta-echo', beta);
      await expectRefused(c, 'beta-fail', {});
      await expectRefused(c, 'alpha-echo');
    });

    it('an empty list allows nothing (allow_all_keys servers stay)', async () => {
      const { key } = await generateKey(suite!, { object_permission: { mcp_servers: [], mcp_access_groups: [] } });
      const c = await client(key);
      expect(sorted(await toolNames(c))).toEqual(sorted(OPEN_TOOLS));
      await expectRefused(c, 'alpha-echo');
      await expectRefused(c, 'beta-echo');
    });

    it('the team restricts the key: intersection of both levels', async () => {
      const { key } = await generateKey(suite!, { team_id: ids.teamOps, object_permission: { mcp_servers: ['alpha', 'beta'] } });
      const c = await client(key);
      expect(sorted(await toolNames(c))).toEqual(sorted([...BETA_TOOLS, ...OPEN_TOOLS]));
      await expectEcho(c, 'beta-echo', beta);
      await expectRefused(c, 'alpha-echo');
    });

    it('the organization restricts the team, and the team’s tool permissions narrow the server', async () => {
      const { key } = await generateKey(suite!, { key_alias: 'in-org', team_id: ids.teamInOrg });
      const c = await client(key);
      expect(sorted(await toolNames(c))).toEqual(sorted(['alpha-echo', 'alpha-add', ...OPEN_TOOLS]));
      await expectEcho(c, 'alpha-echo', alpha);
      await expectRefused(c, 'beta-echo'); // the team names beta, the organization (access group dev) does not
      await expectRefused(c, 'alpha-slow', { ms: 1 }); // alpha is usable, slow is not in the team's tool list

      // GET /v1/mcp/permissions says which level removed beta and which removed alpha's slow.
      const explained = await api(suite!.edgeUrls[0]!, suite!.masterKey, `/v1/mcp/permissions?key=${encodeURIComponent(key)}`);
      expect(explained.is_master).toBe(false);
      expect(explained.key).toMatchObject({ key_alias: 'in-org', team_id: ids.teamInOrg, organization_id: ids.org });
      const byName = new Map<string, any>(explained.servers.map((s: any) => [s.server_name, s]));
      expect(byName.get('beta')).toMatchObject({ allowed: false, removed_by: [{ level: 'organization', reason: 'not_in_mcp_servers_or_access_groups' }] });
      expect(byName.get('alpha')).toMatchObject({ allowed: true, granted_by: expect.arrayContaining(['team', 'organization']) });
      expect(sorted(byName.get('alpha').tools)).toEqual(['add', 'echo']);
      expect(byName.get('alpha').removed_tools).toContainEqual({ tool: 'slow', removed_by: [{ level: 'team', reason: 'not_in_mcp_tool_permissions' }] });
      expect(byName.get('open')).toMatchObject({ allowed: true, granted_by: ['allow_all_keys'] });
    });

    it('mcp_tool_permissions intersect across levels', async () => {
      // key: alpha echo+add; team: alpha echo+slow → echo only.
      const { key } = await generateKey(suite!, {
        team_id: ids.teamTools,
        object_permission: { mcp_servers: ['alpha'], mcp_tool_permissions: { alpha: ['echo', 'add'] } },
      });
      const c = await client(key);
      expect(sorted(await toolNames(c))).toEqual(sorted(['alpha-echo', ...OPEN_TOOLS]));
      await expectEcho(c, 'alpha-echo', alpha);
      await expectRefused(c, 'alpha-add', { a: 1, b: 2 });
      await expectRefused(c, 'alpha-slow', { ms: 1 });
    });

    it('a tool permission naming a server the level excludes does not grant it', async () => {
      const { key } = await generateKey(suite!, { object_permission: { mcp_servers: ['alpha'], mcp_tool_permissions: { beta: ['echo'] } } });
      const c = await client(key);
      expect(sorted(await toolNames(c))).toEqual(sorted([...ALPHA_TOOLS, ...OPEN_TOOLS]));
      await expectRefused(c, 'beta-echo');
      const explained = await api(suite!.edgeUrls[0]!, suite!.masterKey, `/v1/mcp/permissions?key=${encodeURIComponent(key)}`);
      const beta = explained.servers.find((s: any) => s.server_name === 'beta');
      expect(beta).toMatchObject({ allowed: false, removed_by: [{ level: 'key', reason: 'not_in_mcp_servers_or_access_groups' }] });
    });

    it('x-mcp-servers narrows and never grants', async () => {
      const { key } = await generateKey(suite!, { object_permission: { mcp_servers: ['alpha'] } });
      // Narrowed to alpha: open disappears.
      const narrowed = await client(key, '/mcp', { 'x-mcp-servers': 'alpha' });
      expect(sorted(await toolNames(narrowed))).toEqual(sorted(ALPHA_TOOLS));
      await expect(narrowed.callTool({ name: 'open-echo', arguments: { message: 'x' } })).rejects.toMatchObject({ code: -32602 });
      // Naming beta as well does not grant it.
      const asking = await client(key, '/mcp', { 'x-mcp-servers': 'alpha,beta' });
      expect(sorted(await toolNames(asking))).toEqual(sorted(ALPHA_TOOLS));
      await expectRefused(asking, 'beta-echo');
      // A key with no level set asking for alpha gets nothing at all.
      const none = await generateKey(suite!, {});
      const nothing = await client(none.key, '/mcp', { 'x-mcp-servers': 'alpha' });
      expect(await toolNames(nothing)).toEqual([]);
      await expectRefused(nothing, 'alpha-echo');
      // The master key is narrowed too.
      const master = await client(suite!.masterKey, '/mcp', { 'x-mcp-servers': 'beta' });
      expect(sorted(await toolNames(master))).toEqual(sorted(BETA_TOOLS));
    });

    it('/mcp/{server} for a server the key cannot use is refused with 403; an allowed one serves its own names', async () => {
      const { key } = await generateKey(suite!, { object_permission: { mcp_servers: ['alpha'] } });
      await expect(rawInitialize(`${suite!.edgeUrls[0]}/mcp/beta`, key)).rejects.toThrow(/answered 403/);
      await expect(rawInitialize(`${suite!.edgeUrls[0]}/beta/mcp`, key)).rejects.toThrow(/answered 403/);
      const c = await client(key, '/mcp/alpha');
      expect(sorted(await toolNames(c))).toEqual(sorted(ALPHA_TOOLS.map((t) => t.slice('alpha-'.length))));
      await expectEcho(c, 'echo', alpha);
      // The allow_all_keys server is reachable on its own endpoint by any key, the other one not.
      const none = await generateKey(suite!, {});
      const open = await client(none.key, '/mcp/open');
      expect(await toolNames(open)).toContain('echo');
      await expect(rawInitialize(`${suite!.edgeUrls[0]}/mcp/alpha`, none.key)).rejects.toThrow(/answered 403/);
    });
  });

  describe('bad input to the management API', () => {
    const call = (path: string, body?: unknown, key = suite!.masterKey) => callApi(suite!.edgeUrls[0]!, key, path, body);

    it('names the field, answers the fitting 4xx, and writes nothing', async () => {
      const before = (await call('/key/list?size=100')).body.total_count;

      const unknownTeam = await call('/key/generate', { key_alias: 'bad-team', team_id: '00000000-0000-4000-8000-000000000000' });
      expect(unknownTeam.status).toBe(404);
      expect(JSON.stringify(unknownTeam.body)).toContain('team_id');

      const malformed = await call('/key/generate', { key_alias: 'bad-perm', object_permission: { mcp_servers: 'alpha', typo: [] } });
      expect(malformed.status).toBe(400);
      expect(malformed.body.error.message).toMatch(/object_permission/);

      const wrongType = await call('/team/new', { team_alias: 42 });
      expect(wrongType.status).toBe(400);
      expect(wrongType.body.error.message).toMatch(/team_alias/);

      await api(suite!.edgeUrls[0]!, suite!.masterKey, '/key/generate', { key_alias: 'taken-alias' });
      const duplicate = await call('/key/generate', { key_alias: 'taken-alias' });
      expect(duplicate.status).toBe(409);
      expect(JSON.stringify(duplicate.body)).toContain('key_alias');

      const unknownOrg = await call('/team/new', { team_alias: 'orphan', organization_id: '00000000-0000-4000-8000-000000000000' });
      expect(unknownOrg.status).toBe(404);

      const notJson = await fetch(`${suite!.edgeUrls[0]}/key/generate`, { method: 'POST', headers: { ...keyHeaders(suite!.masterKey), 'content-type': 'application/json' }, body: '{"key_alias":' });
      expect(notJson.status).toBe(400);

      expect((await call('/key/list?size=100')).body.total_count).toBe(before + 1); // only taken-alias was written
    });

    it('is closed to keys without the admin role', async () => {
      const plain = await generateKey(suite!, { key_alias: 'not-admin' });
      expect((await call('/key/generate', {}, plain.key)).status).toBe(403);
      expect((await call('/key/list', undefined, 'sk-not-a-key')).status).toBe(401);
    });
  });
});
