import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, callApi, eventually, generateKey, keyHeaders, printLogsOnFailure, startCountingServer, startEverything, startSuite, type CountingServer, type Suite } from './support/index.js';

// Issue 7: the admin API's checks on what it is given. Upstream URLs (http(s) only; link-local and metadata
// addresses always refused; loopback blocked here by general_settings, with a hole for 127.0.0.1 where the fixture
// listens), the transport inferred from the URL, stdio servers for the master key or allowed commands only,
// object_permission naming only servers and access groups that exist, and permissions?key= for an unknown key.
// Refused URLs are never connected to: every address used here is on 127.0.0.0/8 or refused before any connection.

let suite: Suite | undefined;
let counting: CountingServer;
let stdio: { command: string; args: string[] };
let adminKey: string;

printLogsOnFailure(() => suite);

beforeAll(async () => {
  counting = await startCountingServer();
  stdio = await startEverything('stdio');
  suite = await startSuite({
    config: {
      mcp_servers: {
        counting: { url: counting.url, access_groups: ['dev'] }, // no transport: http, the URL path ends in /mcp
      },
      general_settings: {
        mcp_blocked_ip_ranges: ['127.0.0.0/8', '::1/128'],
        mcp_allowed_ip_ranges: ['127.0.0.1/32'],
        mcp_stdio_allowed_commands: [stdio.command],
      },
    },
  });
  adminKey = (await generateKey(suite, { key_alias: 'an-admin', is_admin: true })).key;
});

afterAll(async () => {
  await suite?.stop();
  await counting?.stop();
});

const base = () => suite!.edgeUrls[0]!;
const call = (path: string, body?: unknown, key = suite!.masterKey) => callApi(base(), key, path, body);

/** POST or PUT /v1/mcp/server. */
async function serverCall(method: 'POST' | 'PUT', body: unknown, key = suite!.masterKey): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base()}/v1/mcp/server`, { method, headers: { ...keyHeaders(key), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}
const serverNames = async () => ((await api<any[]>(base(), suite!.masterKey, '/v1/mcp/server')) as { server_name: string }[]).map((s) => s.server_name).sort();

describe('upstream URLs on the admin API', () => {
  it('refuses what is not http(s), link-local and metadata addresses, and blocked ranges, with 400 naming url; stores nothing', async () => {
    const before = await serverNames();
    const refused = [
      ['ftp://127.0.0.1/mcp', 'url: expected an http(s) URL'],
      ['http://169.254.169.254/latest/meta-data/', 'url: 169.254.169.254 is a link-local (cloud metadata) address: always refused'],
      ['http://[fd00:ec2::254]/mcp', 'always refused'],
      ['http://127.0.0.2:9/mcp', 'url: 127.0.0.2 is in general_settings.mcp_blocked_ip_ranges (127.0.0.0/8)'],
      ['http://[::1]:9/mcp', 'url: ::1 is in general_settings.mcp_blocked_ip_ranges (::1/128)'],
    ] as const;
    for (const [url, message] of refused) {
      const reply = await serverCall('POST', { server_name: 'refused_one', url, transport: 'http' });
      expect(reply.status, url).toBe(400);
      expect(reply.body.error.message, url).toContain(message);
    }
    expect(await serverNames()).toEqual(before);
  });

  it('accepts an allowed address; an update to a refused URL is 400 and leaves the server as it was', async () => {
    const created = await serverCall('POST', { server_name: 'hole', url: `http://127.0.0.1:${counting.port}/mcp` });
    expect(created.status).toBe(201);
    const moved = await serverCall('PUT', { server_id: 'hole', url: 'http://127.0.0.3:9/mcp', description: 'moved' });
    expect(moved.status).toBe(400);
    expect(moved.body.error.message).toContain('127.0.0.3 is in general_settings.mcp_blocked_ip_ranges');
    expect(await api(base(), suite!.masterKey, '/v1/mcp/server/hole')).toMatchObject({ url: `http://127.0.0.1:${counting.port}/mcp`, description: null });
  });
});

describe('a missing transport', () => {
  it('is http for a URL path ending in /mcp (config and API), sse otherwise, and the config server works', async () => {
    expect(await api(base(), suite!.masterKey, '/v1/mcp/server/counting')).toMatchObject({ transport: 'http' });
    // the config server's tools reach the catalog: it was reached over Streamable HTTP
    await eventually(async () => (await api<{ tools: { name: string }[] }>(base(), suite!.masterKey, '/v1/mcp/tools')).tools.some((t) => t.name === 'counting-echo'), 20_000);
    for (const [name, path, transport] of [['infer_mcp', '/v1/mcp', 'http'], ['infer_sse', '/sse', 'sse'], ['infer_other', '/other', 'sse']] as const) {
      const created = await serverCall('POST', { server_name: name, url: `http://127.0.0.1:9${path}` });
      expect(created.status, name).toBe(201);
      expect(created.body.transport, name).toBe(transport);
    }
  });
});

describe('stdio servers', () => {
  const everything = () => ({ transport: 'stdio', args: stdio.args });

  it('an admin key may not add one with a command outside mcp_stdio_allowed_commands: 403, nothing stored', async () => {
    const before = await serverNames();
    const reply = await serverCall('POST', { server_name: 'sneaky', transport: 'stdio', command: 'sh', args: ['-c', 'echo pwned'] }, adminKey);
    expect(reply.status).toBe(403);
    expect(reply.body.error.message).toContain('general_settings.mcp_stdio_allowed_commands ("sh" is not)');
    // nor turn an http server into one
    const turned = await serverCall('PUT', { server_id: 'hole', transport: 'stdio', command: 'sh' }, adminKey);
    expect(turned.status).toBe(403);
    expect(await serverNames()).toEqual(before);
    expect(await api(base(), suite!.masterKey, '/v1/mcp/server/hole')).toMatchObject({ transport: 'http', command: null });
  });

  it('an admin key may add one with an allowed command; the master key any; an admin key may not change how it runs', async () => {
    const allowed = await serverCall('POST', { server_name: 'admin_stdio', command: stdio.command, ...everything() }, adminKey);
    expect(allowed.status).toBe(201);
    const master = await serverCall('POST', { server_name: 'master_stdio', command: 'node', ...everything() });
    expect(master.status).toBe(201);
    // an admin key may still describe or regroup it, but not change its command, args, env or transport
    expect((await serverCall('PUT', { server_id: 'master_stdio', description: 'by an admin', access_groups: ['ops'] }, adminKey)).status).toBe(200);
    const rerun = await serverCall('PUT', { server_id: 'master_stdio', args: ['-e', 'process.exit(3)'] }, adminKey);
    expect(rerun.status).toBe(403);
    expect(await api(base(), suite!.masterKey, '/v1/mcp/server/master_stdio')).toMatchObject({ args: stdio.args, description: 'by an admin' });
  });
});

describe('object_permission names', () => {
  it('refuses an unknown server or access group with 400 naming the field and the value, on create and update; writes nothing', async () => {
    const keysBefore = (await call('/key/list?size=100')).body.total_count;
    const unknownServer = await call('/key/generate', { key_alias: 'ghost-server', object_permission: { mcp_servers: ['counting', 'no_such_server'] } });
    expect(unknownServer.status).toBe(400);
    expect(unknownServer.body.error.message).toContain('object_permission.mcp_servers: no MCP server "no_such_server"');
    const unknownGroup = await call('/team/new', { team_alias: 'ghost-group', object_permission: { mcp_access_groups: ['no_such_group'] } });
    expect(unknownGroup.status).toBe(400);
    expect(unknownGroup.body.error.message).toContain('object_permission.mcp_access_groups: no MCP server is in access group "no_such_group"');
    const unknownToolServer = await call('/organization/new', { organization_alias: 'ghost-tools', object_permission: { mcp_tool_permissions: { nowhere: ['echo'] } } });
    expect(unknownToolServer.status).toBe(400);
    expect(unknownToolServer.body.error.message).toContain('object_permission.mcp_tool_permissions: no MCP server "nowhere"');
    expect((await call('/key/list?size=100')).body.total_count).toBe(keysBefore);
    expect((await call('/team/list')).body.teams.map((t: any) => t.team_alias)).not.toContain('ghost-group');

    // updates alike, and the stored permission stays
    const { key } = await generateKey(suite!, { key_alias: 'known-names', object_permission: { mcp_servers: ['counting'], mcp_access_groups: ['dev'] } });
    const team = await api(base(), suite!.masterKey, '/team/new', { team_alias: 'known-team', object_permission: { mcp_access_groups: ['dev'] } });
    const org = await api(base(), suite!.masterKey, '/organization/new', { organization_alias: 'known-org', object_permission: { mcp_servers: ['counting'] } });
    expect((await call('/key/update', { key, object_permission: { mcp_servers: ['later'] } })).status).toBe(400);
    expect((await call('/team/update', { team_id: team.team_id, object_permission: { mcp_access_groups: ['later_group'] } })).status).toBe(400);
    expect((await call('/organization/update', { organization_id: org.organization_id, object_permission: { mcp_servers: ['later'] } })).status).toBe(400);
    expect((await call(`/key/info?key=${encodeURIComponent(key)}`)).body.info.object_permission).toMatchObject({ mcp_servers: ['counting'] });

    // a server added later is granted through an update; ids are names too
    const later = await serverCall('POST', { server_name: 'later', url: 'http://127.0.0.1:9/mcp', access_groups: ['later_group'] });
    expect(later.status).toBe(201);
    expect((await call('/key/update', { key, object_permission: { mcp_servers: ['later', later.body.server_id] } })).status).toBe(200);
    expect((await call('/team/update', { team_id: team.team_id, object_permission: { mcp_access_groups: ['later_group'] } })).status).toBe(200);
  });
});

describe('GET /v1/mcp/permissions?key=', () => {
  it('answers 404 naming only the prefix of an unknown key; 401 stays for the caller’s own credentials', async () => {
    const unknown = 'sk-unknownKeyThatWasNeverIssued0123456789';
    const reply = await call(`/v1/mcp/permissions?key=${encodeURIComponent(unknown)}`);
    expect(reply.status).toBe(404);
    expect(reply.body.error.message).toContain('sk-unk');
    expect(JSON.stringify(reply.body)).not.toContain(unknown);
    expect(reply.headers.get('www-authenticate')).toBeNull();
    expect((await call(`/v1/mcp/permissions?key=${encodeURIComponent(unknown)}`, undefined, 'sk-not-my-key')).status).toBe(401);
  });
});
