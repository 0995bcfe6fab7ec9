import { describe, expect, it } from 'vitest';
import type { ObjectPermission } from '#libs/contracts';
import {
  canCallTool,
  canUseServer,
  effectiveAccess,
  explainAccess,
  levelsFingerprint,
  narrowByHeader,
  accessServersFromCatalog,
  principalAccess,
  type AccessLevels,
  type AccessServer,
} from './effective-access.js';

const CATALOG: AccessServer[] = [
  { server_id: 'g1', server_name: 'github', access_groups: ['dev_tools'], allow_all_keys: false, allowed_tools: null, disallowed_tools: null, tools: ['create_issue', 'list_issues', 'delete_repo'] },
  { server_id: 'd1', server_name: 'deepwiki', access_groups: ['docs'], allow_all_keys: false, allowed_tools: null, disallowed_tools: null, tools: ['ask', 'read'] },
  { server_id: 'j1', server_name: 'jira', access_groups: ['dev_tools'], allow_all_keys: false, allowed_tools: null, disallowed_tools: ['delete'], tools: ['create', 'search', 'delete'] },
  { server_id: 'p1', server_name: 'public', access_groups: [], allow_all_keys: true, allowed_tools: null, disallowed_tools: null, tools: ['time', 'echo'] },
  { server_id: 's1', server_name: 'slack', access_groups: [], allow_all_keys: false, allowed_tools: ['post'], disallowed_tools: null, tools: ['post', 'read_history'] },
];

const ALL = { github: ['create_issue', 'delete_repo', 'list_issues'], deepwiki: ['ask', 'read'] };
const PUBLIC = { public: ['echo', 'time'] };

function perm(p: Partial<ObjectPermission>): ObjectPermission {
  return { mcp_servers: [], mcp_access_groups: [], mcp_tool_permissions: {}, ...p };
}

interface Case {
  name: string;
  key?: Partial<ObjectPermission> | null;
  team?: Partial<ObjectPermission> | null;
  organization?: Partial<ObjectPermission> | null;
  master?: boolean;
  header?: string;
  /** allowed server name -> sorted usable tools; every other server must be refused */
  expected: Record<string, string[]>;
}

const CASES: Case[] = [
  // rule 1/2: unset levels, empty lists, deny by default
  { name: 'no level set: only allow_all_keys servers', expected: PUBLIC },
  { name: 'key level set with empty lists allows nothing (but allow_all_keys)', key: {}, expected: PUBLIC },
  { name: 'all three levels set and empty allow nothing', key: {}, team: {}, organization: {}, expected: PUBLIC },
  { name: 'key mcp_servers by name', key: { mcp_servers: ['github'] }, expected: { github: ALL.github, ...PUBLIC } },
  { name: 'key mcp_servers by id', key: { mcp_servers: ['d1'] }, expected: { deepwiki: ALL.deepwiki, ...PUBLIC } },
  { name: 'unknown server names grant nothing', key: { mcp_servers: ['nope'] }, expected: PUBLIC },
  // access groups
  {
    name: 'key access group adds every server of the group',
    key: { mcp_access_groups: ['dev_tools'] },
    expected: { github: ALL.github, jira: ['create', 'search'], ...PUBLIC },
  },
  { name: 'mcp_servers and access groups add up within a level', key: { mcp_servers: ['slack'], mcp_access_groups: ['docs'] }, expected: { slack: ['post'], deepwiki: ALL.deepwiki, ...PUBLIC } },
  // inheritance and intersection
  { name: 'team level alone applies to the key', team: { mcp_servers: ['github'] }, expected: { github: ALL.github, ...PUBLIC } },
  { name: 'organization level alone applies (via access group)', organization: { mcp_access_groups: ['docs'] }, expected: { deepwiki: ALL.deepwiki, ...PUBLIC } },
  { name: 'key and team intersect', key: { mcp_servers: ['github', 'deepwiki'] }, team: { mcp_servers: ['deepwiki'] }, expected: { deepwiki: ALL.deepwiki, ...PUBLIC } },
  {
    name: 'three set levels intersect (names, groups, ids)',
    key: { mcp_servers: ['github', 'jira'] },
    team: { mcp_access_groups: ['dev_tools'] },
    organization: { mcp_servers: ['g1', 'deepwiki'] },
    expected: { github: ALL.github, ...PUBLIC },
  },
  { name: 'a set but empty organization removes everything the key allows', key: { mcp_servers: ['github'] }, organization: {}, expected: PUBLIC },
  { name: 'disjoint key and team allow nothing', key: { mcp_servers: ['github'] }, team: { mcp_servers: ['deepwiki'] }, expected: PUBLIC },
  // rule 3: tool permissions
  { name: 'tool permission restricts a server to its tools', key: { mcp_servers: ['github'], mcp_tool_permissions: { github: ['create_issue'] } }, expected: { github: ['create_issue'], ...PUBLIC } },
  {
    name: 'tool permissions intersect across levels',
    key: { mcp_servers: ['github'], mcp_tool_permissions: { github: ['create_issue', 'list_issues'] } },
    team: { mcp_servers: ['github'], mcp_tool_permissions: { github: ['list_issues', 'delete_repo'] } },
    expected: { github: ['list_issues'], ...PUBLIC },
  },
  {
    name: 'tool permission at the organization restricts a server the key allows',
    key: { mcp_servers: ['github'] },
    organization: { mcp_access_groups: ['dev_tools'], mcp_tool_permissions: { github: ['list_issues'] } },
    expected: { github: ['list_issues'], ...PUBLIC },
  },
  { name: 'tool permission keyed by server id', key: { mcp_servers: ['github'], mcp_tool_permissions: { g1: ['delete_repo'] } }, expected: { github: ['delete_repo'], ...PUBLIC } },
  { name: 'tool permission with prefixed names', key: { mcp_servers: ['github'], mcp_tool_permissions: { github: ['github-list_issues'] } }, expected: { github: ['list_issues'], ...PUBLIC } },
  { name: 'an empty tool list leaves the server with no tools', key: { mcp_servers: ['github'], mcp_tool_permissions: { github: [] } }, expected: { github: [], ...PUBLIC } },
  { name: 'a tool permission does not grant its server', key: { mcp_servers: ['deepwiki'], mcp_tool_permissions: { github: ['create_issue'] } }, expected: { deepwiki: ALL.deepwiki, ...PUBLIC } },
  {
    name: 'a tool permission does not re-grant a server its own level excludes, even when another level allows it',
    key: { mcp_servers: ['github'] },
    team: { mcp_servers: ['deepwiki'], mcp_tool_permissions: { github: ['create_issue'] } },
    expected: PUBLIC,
  },
  { name: 'tool permission alone on an unset-lists level grants nothing', key: { mcp_tool_permissions: { github: ['create_issue'] } }, expected: PUBLIC },
  // server's own filters
  { name: "server's allowed_tools apply on top", key: { mcp_servers: ['slack'] }, expected: { slack: ['post'], ...PUBLIC } },
  { name: "server's disallowed_tools win over a tool permission", key: { mcp_servers: ['jira'], mcp_tool_permissions: { jira: ['delete', 'search'] } }, expected: { jira: ['search'], ...PUBLIC } },
  { name: "server's allowed_tools intersect with a tool permission", key: { mcp_servers: ['slack'], mcp_tool_permissions: { slack: ['read_history'] } }, expected: { ...PUBLIC, slack: [] } },
  // allow_all_keys
  { name: 'allow_all_keys server survives set levels that do not list it', key: { mcp_servers: ['github'] }, team: { mcp_servers: ['github'] }, expected: { github: ALL.github, ...PUBLIC } },
  { name: 'tool permissions still restrict an allow_all_keys server', key: { mcp_tool_permissions: { public: ['time'] } }, expected: { public: ['time'] } },
  // master
  { name: 'master key sees every server, server filters still apply', master: true, expected: { ...ALL, jira: ['create', 'search'], ...PUBLIC, slack: ['post'] } },
  { name: 'master key ignores levels', master: true, key: {}, team: { mcp_servers: ['github'], mcp_tool_permissions: { github: [] } }, expected: { ...ALL, jira: ['create', 'search'], ...PUBLIC, slack: ['post'] } },
  // x-mcp-servers narrowing
  { name: 'header narrows to named servers (allow_all_keys included)', key: { mcp_servers: ['github', 'deepwiki'] }, header: 'github', expected: { github: ALL.github } },
  { name: 'header never grants', key: { mcp_servers: ['github'] }, header: 'github,deepwiki', expected: { github: ALL.github } },
  { name: 'header accepts ids and spaces', key: { mcp_servers: ['deepwiki'] }, header: ' d1 , public ', expected: { deepwiki: ALL.deepwiki, ...PUBLIC } },
  { name: 'empty header changes nothing', key: { mcp_servers: ['github'] }, header: ' , ', expected: { github: ALL.github, ...PUBLIC } },
  { name: 'header narrows the master key too', master: true, header: 'slack', expected: { slack: ['post'] } },
];

function levelsOf(c: Case): AccessLevels {
  const lv = (p: Partial<ObjectPermission> | null | undefined) => (p === undefined || p === null ? null : perm(p));
  return { key: lv(c.key), team: lv(c.team), organization: lv(c.organization) };
}

describe('effectiveAccess (SPEC section 4)', () => {
  it('has at least 20 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(20));

  it.each(CASES)('$name', (c) => {
    let sut = effectiveAccess({ levels: levelsOf(c), isMaster: c.master ?? false, servers: CATALOG });
    if (c.header !== undefined) sut = narrowByHeader(sut, c.header);
    const actual = Object.fromEntries([...sut.allowedByName].map(([name, s]) => [name, [...s.tools].sort()]));
    const expected = Object.fromEntries(Object.entries(c.expected).map(([k, v]) => [k, [...v].sort()]));
    expect(actual).toEqual(expected);
    for (const server of CATALOG) {
      const allowed = server.server_name in expected;
      expect(canUseServer(sut, server.server_name)).toBe(allowed);
      expect(canUseServer(sut, server.server_id)).toBe(allowed);
      for (const tool of server.tools) expect(canCallTool(sut, server.server_name, tool)).toBe(allowed && expected[server.server_name]!.includes(tool));
    }
  });
});

describe('explanations', () => {
  it('names every level that removed a server', () => {
    const sut = effectiveAccess({ levels: levelsOf({ name: '', key: { mcp_servers: ['github'] }, team: { mcp_servers: ['deepwiki'] }, expected: {} }), isMaster: false, servers: CATALOG });
    const byName = Object.fromEntries(explainAccess(sut).servers.map((s) => [s.server_name, s]));
    expect(byName.github!.removed_by).toEqual([{ level: 'team', reason: 'not_in_mcp_servers_or_access_groups' }]);
    expect(byName.deepwiki!.removed_by).toEqual([{ level: 'key', reason: 'not_in_mcp_servers_or_access_groups' }]);
    expect(byName.jira!.removed_by).toHaveLength(2);
    expect(byName.public).toMatchObject({ allowed: true, granted_by: ['allow_all_keys'], removed_by: [] });
  });

  it('says when no level is set', () => {
    const sut = effectiveAccess({ levels: { key: null, team: null, organization: null }, isMaster: false, servers: CATALOG });
    expect(explainAccess(sut).servers.find((s) => s.server_name === 'github')!.removed_by).toEqual([{ level: 'default', reason: 'no_level_set' }]);
  });

  it('names every level and server filter that removed a tool', () => {
    const levels = levelsOf({
      name: '',
      key: { mcp_servers: ['jira'], mcp_tool_permissions: { jira: ['search'] } },
      organization: { mcp_servers: ['jira'], mcp_tool_permissions: { jira: ['search', 'create'] } },
      expected: {},
    });
    const jira = explainAccess(effectiveAccess({ levels, isMaster: false, servers: CATALOG })).servers.find((s) => s.server_name === 'jira')!;
    expect(jira.granted_by).toEqual(['key', 'organization']);
    expect(jira.tools).toEqual(['search']);
    expect(jira.removed_tools).toEqual([
      { tool: 'create', removed_by: [{ level: 'key', reason: 'not_in_mcp_tool_permissions' }] },
      {
        tool: 'delete',
        removed_by: [
          { level: 'key', reason: 'not_in_mcp_tool_permissions' },
          { level: 'organization', reason: 'not_in_mcp_tool_permissions' },
          { level: 'server', reason: 'in_disallowed_tools' },
        ],
      },
    ]);
  });

  it('marks servers hidden by the header', () => {
    const sut = narrowByHeader(effectiveAccess({ levels: levelsOf({ name: '', key: { mcp_servers: ['github'] }, expected: {} }), isMaster: false, servers: CATALOG }), 'github');
    expect(sut.servers.find((s) => s.server_name === 'public')!.removed_by).toEqual([{ level: 'header', reason: 'not_in_x_mcp_servers' }]);
  });
});

describe('fingerprints', () => {
  const access = (levels: AccessLevels, servers = CATALOG) => effectiveAccess({ levels, isMaster: false, servers });

  it('is equal for equal results, however they were reached or ordered', () => {
    const a = access({ key: perm({ mcp_servers: ['github'] }), team: null, organization: null });
    const b = access({ key: null, team: perm({ mcp_servers: ['g1', 'nope'] }), organization: null }, [...CATALOG].reverse());
    expect(a.fingerprint).toBe(b.fingerprint);
  });

  it('differs when the usable tools differ', () => {
    const a = access({ key: perm({ mcp_servers: ['github'] }), team: null, organization: null });
    const b = access({ key: perm({ mcp_servers: ['github'], mcp_tool_permissions: { github: ['create_issue'] } }), team: null, organization: null });
    expect(a.fingerprint).not.toBe(b.fingerprint);
    expect(narrowByHeader(a, 'github').fingerprint).not.toBe(a.fingerprint);
  });

  it('levelsFingerprint ignores list order but not content', () => {
    const a = levelsFingerprint({ key: perm({ mcp_servers: ['a', 'b'] }), team: null, organization: null }, false);
    const b = levelsFingerprint({ key: perm({ mcp_servers: ['b', 'a'] }), team: null, organization: null }, false);
    const c = levelsFingerprint({ key: null, team: perm({ mcp_servers: ['a', 'b'] }), organization: null }, false);
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(levelsFingerprint({ key: null, team: null, organization: null }, true)).not.toBe(levelsFingerprint({ key: null, team: null, organization: null }, false));
  });
});

describe('catalog adapter', () => {
  it('reduces catalog tools to names and applies a principal', () => {
    const servers = accessServersFromCatalog([
      {
        server_id: 'g1',
        server_name: 'github',
        description: null,
        access_groups: [],
        allow_all_keys: false,
        allowed_tools: null,
        disallowed_tools: null,
        extra_headers: [],
        status: 'healthy',
        error: null,
        checked_at: '2026-01-01T00:00:00Z',
        tools: [{ name: 'list_issues', inputSchema: { type: 'object' } }],
      },
    ]);
    expect(servers[0]!.tools).toEqual(['list_issues']);
    const levels = { key: perm({ mcp_servers: ['github'] }), team: null, organization: null };
    expect(canCallTool(principalAccess({ kind: 'virtual', levels }, servers), 'github', 'list_issues')).toBe(true);
    expect(canUseServer(principalAccess({ kind: 'virtual', levels: { key: perm({}), team: null, organization: null } }, servers), 'github')).toBe(false);
    expect(canUseServer(principalAccess({ kind: 'master', levels: { key: perm({}), team: null, organization: null } }, servers), 'github')).toBe(true);
  });
});
