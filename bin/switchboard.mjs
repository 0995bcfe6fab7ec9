#!/usr/bin/env node
// switchboard: the gateway's admin CLI (docs/SPEC.md section 8). Over the REST admin API by default, over the NATS
// admin API (docs/nats-api.md) with --nats. Run `switchboard --help`.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failed: 1, usage: 2, auth: 3, notFound: 4, conflict: 5, unavailable: 6 };
const EXIT_BY_CODE = {
  INVALID_ARGUMENT: EXIT.usage,
  UNAUTHENTICATED: EXIT.auth,
  PERMISSION_DENIED: EXIT.auth,
  NOT_FOUND: EXIT.notFound,
  CONFLICT: EXIT.conflict,
  RATE_LIMITED: EXIT.unavailable,
  UPSTREAM_UNAVAILABLE: EXIT.unavailable,
  UPSTREAM_TIMEOUT: EXIT.unavailable,
  BUS_TIMEOUT: EXIT.unavailable,
  INTERNAL: EXIT.failed,
};

const HELP = `switchboard: manage a Switchboard gateway

Usage: switchboard [options] <command> [arguments]

Commands:
  servers list | show <server> | add <name> [server flags] | update <server> [server flags]
          remove <server> | test <server> | health [<server>]
  keys    list [--team ID] [--page N] [--size N] | show <key> | create [key flags] | update <key> [key flags]
          delete <key>...
  teams   list [--org ID] | show <team_id> | create [team flags] | update <team_id> [team flags] | delete <team_id>...
  orgs    list | show <org_id> | create --alias NAME [org flags] | update <org_id> [org flags] | delete <org_id>...
  tools   list [--server S] | call <name> [--args JSON] [--server S]
  permissions explain <key> | explain --token TOKEN [--resource URI]
  grants  list --user U | revoke <server> --user U [--client CLIENT_ID]   (per-user upstream OAuth)
  audit   tail [--follow] [--interval S] [--limit N] [--server NAME] [--key-alias A] [--status S]
  data    export|import|copy ...   (runs \`npm run data\` on this machine's data: see docs/SPEC.md section 1)

Server flags: --upstream URL --transport http|sse|stdio --command C --arg A (repeat) --env K=V (repeat)
  --header K=V (repeat) --auth-type T --auth-value V --description D --alias A --access-group G (repeat)
  --allowed-tool T (repeat) --disallowed-tool T (repeat) --allow-all-keys --upstream-timeout SECONDS
Key flags: --alias A --team ID --user ID --duration 30d --models a,b --servers a,b --access-groups a,b --rpm N
  --parallel N --admin --block --unblock
Team flags: --id ID --alias A --org ID --servers a,b --access-groups a,b --models a,b --rpm N --parallel N --block --unblock
Org flags: --id ID --alias A --servers a,b --access-groups a,b --rpm N
Any create or update also takes --body JSON (or --body @file.json): fields of the REST body, over the flags.

Options:
  --url URL          the gateway (SWITCHBOARD_URL, default http://localhost:4000)
  --key KEY          the master key or an admin key (SWITCHBOARD_KEY); never printed
  --nats [URL]       use the NATS admin API instead of REST (URL: SWITCHBOARD_NATS_URL, default nats://localhost:4222;
                     nats://user:password@host:port for the admin NATS user)
  --namespace NS     the gateway's NATS_NAMESPACE (SWITCHBOARD_NATS_NAMESPACE)
  --inbox-prefix P   NATS inbox prefix (default _INBOX_admin, what deploy/nats allows the admin user)
  --json             print the reply as JSON (errors too, as {"error": ...}); otherwise tables for people
  --timeout SECONDS  how long to wait for one request (default 30)
  -h, --help         this text

Exit codes: 0 ok, 1 failed (a server test that fails, a tool error, an internal error), 2 bad input, 3 missing or
refused credentials, 4 not found, 5 conflict (already exists, still in use), 6 gateway unreachable or busy.
`;

const OPTIONS = {
  url: { type: 'string' },
  key: { type: 'string' },
  nats: { type: 'boolean' },
  'nats-url': { type: 'string' },
  namespace: { type: 'string' },
  'inbox-prefix': { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  body: { type: 'string' },
  // servers
  upstream: { type: 'string' },
  'upstream-timeout': { type: 'string' },
  transport: { type: 'string' },
  command: { type: 'string' },
  arg: { type: 'string', multiple: true },
  env: { type: 'string', multiple: true },
  header: { type: 'string', multiple: true },
  'auth-type': { type: 'string' },
  'auth-value': { type: 'string' },
  description: { type: 'string' },
  'access-group': { type: 'string', multiple: true },
  'allowed-tool': { type: 'string', multiple: true },
  'disallowed-tool': { type: 'string', multiple: true },
  'allow-all-keys': { type: 'boolean' },
  server: { type: 'string' },
  // keys, teams, orgs
  alias: { type: 'string' },
  id: { type: 'string' },
  team: { type: 'string' },
  org: { type: 'string' },
  user: { type: 'string' },
  duration: { type: 'string' },
  models: { type: 'string' },
  servers: { type: 'string' },
  'access-groups': { type: 'string' },
  rpm: { type: 'string' },
  parallel: { type: 'string' },
  admin: { type: 'boolean' },
  block: { type: 'boolean' },
  unblock: { type: 'boolean' },
  page: { type: 'string' },
  size: { type: 'string' },
  // tools, audit
  args: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  interval: { type: 'string' },
  limit: { type: 'string' },
  'key-alias': { type: 'string' },
  status: { type: 'string' },
  // permissions, grants
  client: { type: 'string' },
  token: { type: 'string' },
  resource: { type: 'string' },
};

/** A failure with its exit code; `code` is the gateway's error code when it answered one. */
class CliError extends Error {
  constructor(message, exit, code, details) {
    super(message);
    this.exit = exit;
    this.code = code;
    this.details = details;
  }
}
const usage = (message) => new CliError(message, EXIT.usage, 'USAGE');

// ---- transports ------------------------------------------------------------------------------------------------

const enc = encodeURIComponent;
/** REST twin of each admin operation (the NATS subject is sb.v1.admin.<operation>). */
const REST = {
  'servers.list': () => ({ method: 'GET', path: '/v1/mcp/server', map: (r) => ({ servers: r }) }),
  'servers.get': (b) => ({ method: 'GET', path: `/v1/mcp/server/${enc(b.server)}` }),
  'servers.create': (b) => ({ method: 'POST', path: '/v1/mcp/server', body: b }),
  'servers.update': (b) => ({ method: 'PUT', path: '/v1/mcp/server', body: b }),
  'servers.delete': (b) => ({ method: 'DELETE', path: `/v1/mcp/server/${enc(b.server)}` }),
  'servers.test': (b) => ({ method: 'POST', path: `/v1/mcp/server/${enc(b.server)}/test` }),
  'servers.health': (b) => ({ method: 'GET', path: '/v1/mcp/server/health', query: b.server ? { server_id: b.server } : {} }),
  'keys.create': (b) => ({ method: 'POST', path: '/key/generate', body: b }),
  'keys.update': (b) => ({ method: 'POST', path: '/key/update', body: b }),
  'keys.delete': (b) => ({ method: 'POST', path: '/key/delete', body: b }),
  'keys.get': (b) => ({ method: 'GET', path: '/key/info', query: b }),
  'keys.list': (b) => ({ method: 'GET', path: '/key/list', query: b }),
  'teams.create': (b) => ({ method: 'POST', path: '/team/new', body: b }),
  'teams.update': (b) => ({ method: 'POST', path: '/team/update', body: b }),
  'teams.delete': (b) => ({ method: 'POST', path: '/team/delete', body: b }),
  'teams.get': (b) => ({ method: 'GET', path: '/team/info', query: b }),
  'teams.list': (b) => ({ method: 'GET', path: '/team/list', query: b }),
  'organizations.create': (b) => ({ method: 'POST', path: '/organization/new', body: b }),
  'organizations.update': (b) => ({ method: 'POST', path: '/organization/update', body: b }),
  'organizations.delete': (b) => ({ method: 'POST', path: '/organization/delete', body: b }),
  'organizations.get': (b) => ({ method: 'GET', path: '/organization/info', query: b }),
  'organizations.list': () => ({ method: 'GET', path: '/organization/list' }),
  'tools.list': (b) => ({ method: 'GET', path: '/mcp-rest/tools/list', query: b.server ? { server_id: b.server } : {} }),
  'tools.call': (b) => ({ method: 'POST', path: '/mcp-rest/tools/call', body: { name: b.name, arguments: b.arguments ?? {}, ...(b.server ? { server_id: b.server } : {}) } }),
  'permissions.explain': (b) => ({ method: 'GET', path: '/v1/mcp/permissions', query: b }),
  'audit.query': (b) => ({ method: 'GET', path: '/v1/mcp/audit', query: b }),
  'upstream-grants.list': (b) => ({ method: 'GET', path: '/v1/mcp/oauth/grants', query: b }),
  'upstream-grants.revoke': (b) => ({ method: 'DELETE', path: `/v1/mcp/oauth/${enc(b.server)}/grant`, query: { user_id: b.user_id, ...(b.client_id ? { client_id: b.client_id } : {}) } }),
};

function restTransport({ url, key, timeoutMs }) {
  const base = url.replace(/\/+$/, '');
  return {
    describe: () => base,
    async call(operation, body) {
      const { method, path, query, body: json, map } = REST[operation](body);
      const search = query && Object.keys(query).length ? `?${new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]))}` : '';
      let response;
      try {
        response = await fetch(`${base}${path}${search}`, {
          method,
          headers: { authorization: `Bearer ${key}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(json === undefined ? {} : { body: JSON.stringify(json) }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        const reason = error.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (error.cause?.code ?? error.message);
        throw new CliError(`cannot reach the gateway at ${base}: ${reason}`, EXIT.unavailable, 'UNREACHABLE');
      }
      const text = await response.text();
      let parsed;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
      if (!response.ok) {
        const error = parsed?.error ?? {};
        const code = typeof error.type === 'string' && error.type.toUpperCase() in EXIT_BY_CODE ? error.type.toUpperCase() : statusCode(response.status);
        throw new CliError(error.message ?? `${method} ${path} answered ${response.status}`, EXIT_BY_CODE[code] ?? EXIT.failed, code, error.details);
      }
      return map ? map(parsed) : parsed;
    },
    close: async () => {},
  };
}

function statusCode(status) {
  return { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 409: 'CONFLICT', 429: 'RATE_LIMITED', 503: 'UPSTREAM_UNAVAILABLE', 504: 'UPSTREAM_TIMEOUT' }[status] ?? 'INTERNAL';
}

/** nats://user:password@host:port: nats.js takes the credentials as options. */
function natsOptions(url) {
  const match = /^(?:nats:\/\/)?(?:([^@/]*)@)?([^@]+)$/.exec(url);
  if (!match) throw usage(`--nats: not a NATS URL: ${url.replace(/\/\/[^@]*@/, '//***@')}`);
  if (!match[1]) return { servers: match[2] };
  const [user, ...pass] = match[1].split(':');
  return { servers: match[2], user: decodeURIComponent(user), ...(pass.length ? { pass: decodeURIComponent(pass.join(':')) } : {}) };
}

async function natsTransport({ natsUrl, namespace, inboxPrefix, key, timeoutMs }) {
  const { connect } = await import('@nats-io/transport-node');
  const options = natsOptions(natsUrl);
  let connection;
  try {
    connection = await connect({ ...options, inboxPrefix, name: 'switchboard-cli', timeout: Math.min(timeoutMs, 10_000), reconnect: false });
  } catch (error) {
    const exit = /authoriz/i.test(error.message) ? EXIT.auth : EXIT.unavailable;
    throw new CliError(`cannot connect to NATS at ${options.servers}: ${error.message}`, exit, exit === EXIT.auth ? 'UNAUTHENTICATED' : 'UNREACHABLE');
  }
  const prefix = namespace ? `${namespace}.` : '';
  return {
    describe: () => `nats ${options.servers}`,
    async call(operation, body) {
      const subject = `${prefix}sb.v1.admin.${operation}`;
      let msg;
      try {
        msg = await connection.request(subject, JSON.stringify({ meta: { authorization: `Bearer ${key}`, deadline: Date.now() + timeoutMs }, data: body }), { timeout: timeoutMs });
      } catch (error) {
        if (/no responders/i.test(error.message)) throw new CliError(`no gateway answers ${subject} on NATS (is the edge running on this NATS, with this namespace?)`, EXIT.unavailable, 'UNREACHABLE');
        if (/permissions violation/i.test(error.message)) throw new CliError(`NATS refused ${subject}: ${error.message}`, EXIT.auth, 'PERMISSION_DENIED');
        if (/timeout/i.test(error.name + error.message)) throw new CliError(`no answer on ${subject} within ${timeoutMs / 1000} s`, EXIT.unavailable, 'BUS_TIMEOUT');
        throw new CliError(`NATS request ${subject} failed: ${error.message}`, EXIT.unavailable, 'UNREACHABLE');
      }
      const reply = msg.json();
      if (!reply?.ok) {
        const error = reply?.error ?? { code: 'INTERNAL', message: 'malformed reply' };
        throw new CliError(error.message, EXIT_BY_CODE[error.code] ?? EXIT.failed, error.code, error.details);
      }
      return reply.data;
    },
    close: () => connection.close(),
  };
}

// ---- input -----------------------------------------------------------------------------------------------------

const csv = (value) => (value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean));
function int(name, value) {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw usage(`--${name}: expected a whole number, got "${value}"`);
  return Number(value);
}
function pairs(name, values) {
  if (!values) return undefined;
  return Object.fromEntries(
    values.map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw usage(`--${name}: expected NAME=VALUE, got "${pair}"`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}
function json(name, text) {
  if (text === undefined) return undefined;
  const source = text.startsWith('@') ? readFileSync(text.slice(1), 'utf8') : text;
  try {
    return JSON.parse(source);
  } catch (error) {
    throw usage(`--${name}: not JSON: ${error.message}`);
  }
}
/** Drops undefined fields, then lays --body over them. */
function body(fields, values) {
  const out = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  const extra = json('body', values.body);
  if (extra !== undefined && (typeof extra !== 'object' || Array.isArray(extra))) throw usage('--body: expected a JSON object');
  return { ...out, ...extra };
}
function permission(values) {
  const servers = csv(values.servers);
  const groups = csv(values['access-groups']);
  if (!servers && !groups) return undefined;
  return { mcp_servers: servers ?? [], mcp_access_groups: groups ?? [] };
}
function blocked(values) {
  if (values.block && values.unblock) throw usage('--block and --unblock: choose one');
  return values.block ? true : values.unblock ? false : undefined;
}
function one(positionals, what) {
  if (positionals.length !== 1) throw usage(`expected ${what}${positionals.length > 1 ? ` (one; got ${positionals.length})` : ''}`);
  return positionals[0];
}

function serverFields(values) {
  const timeout = values['upstream-timeout'];
  if (timeout !== undefined && !(Number(timeout) > 0)) throw usage(`--upstream-timeout: expected seconds, got "${timeout}"`);
  return {
    url: values.upstream,
    transport: values.transport,
    command: values.command,
    args: values.arg,
    env: pairs('env', values.env),
    static_headers: pairs('header', values.header),
    auth_type: values['auth-type'],
    auth_value: values['auth-value'],
    description: values.description,
    alias: values.alias,
    access_groups: values['access-group'],
    allowed_tools: values['allowed-tool'],
    disallowed_tools: values['disallowed-tool'],
    allow_all_keys: values['allow-all-keys'],
    timeout: timeout === undefined ? undefined : Number(timeout),
  };
}

// ---- output ----------------------------------------------------------------------------------------------------

function table(rows, columns) {
  if (rows.length === 0) return '(none)\n';
  const cell = (v) => (v === null || v === undefined ? '-' : Array.isArray(v) ? v.join(',') || '-' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const cells = rows.map((row) => columns.map(([, get]) => cell(typeof get === 'function' ? get(row) : row[get])));
  const widths = columns.map(([title], i) => Math.max(title.length, ...cells.map((r) => r[i].length)));
  const line = (values) => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return `${[line(columns.map(([t]) => t.toUpperCase())), ...cells.map(line)].join('\n')}\n`;
}
function fields(object, keys = Object.keys(object)) {
  const width = Math.max(...keys.map((k) => k.length));
  return `${keys.map((k) => `${k.padEnd(width)}  ${object[k] === null || object[k] === undefined ? '-' : typeof object[k] === 'object' ? JSON.stringify(object[k]) : object[k]}`).join('\n')}\n`;
}

/** A spinner on stderr for long operations, only for people (a terminal, no --json). */
function progress(label, enabled) {
  if (!enabled) return () => {};
  const frames = ['|', '/', '-', '\\'];
  let i = 0;
  const timer = setInterval(() => process.stderr.write(`\r${frames[i++ % frames.length]} ${label}`), 120);
  return () => {
    clearInterval(timer);
    process.stderr.write(`\r${' '.repeat(label.length + 2)}\r`);
  };
}

const SERVER_COLUMNS = [['name', 'server_name'], ['transport', 'transport'], ['target', (s) => s.url ?? [s.command, ...(s.args ?? [])].join(' ')], ['source', 'source'], ['id', 'server_id']];
const KEY_COLUMNS = [['alias', 'key_alias'], ['key', 'key_name'], ['team', 'team_id'], ['admin', 'is_admin'], ['blocked', 'blocked'], ['expires', 'expires'], ['token', (k) => k.token.slice(0, 12)]];
const TEAM_COLUMNS = [['id', 'team_id'], ['alias', 'team_alias'], ['org', 'organization_id'], ['rpm', 'rpm_limit'], ['blocked', 'blocked']];
const ORG_COLUMNS = [['id', 'organization_id'], ['alias', 'organization_alias'], ['rpm', 'rpm_limit']];
const AUDIT_COLUMNS = [['time', 'time'], ['key', 'key_alias'], ['server', 'server_name'], ['tool', 'tool'], ['status', 'status'], ['ms', 'duration_ms'], ['error', 'error_code']];

// ---- commands --------------------------------------------------------------------------------------------------

/** Each command: (positionals, values, ctx) -> { reply, text?, exit? }. */
const COMMANDS = {
  servers: {
    list: async (_p, _v, { call }) => {
      const reply = await call('servers.list', {});
      return { reply, text: table(reply.servers, SERVER_COLUMNS) };
    },
    show: async (p, _v, { call }) => {
      const reply = await call('servers.get', { server: one(p, 'a server id or name') });
      return { reply, text: fields(reply) };
    },
    add: async (p, v, { call }) => {
      const reply = await call('servers.create', body({ server_name: one(p, 'the new server\'s name'), ...serverFields(v) }, v));
      return { reply, text: `added ${reply.server_name} (${reply.server_id})\n` };
    },
    update: async (p, v, { call }) => {
      const reply = await call('servers.update', body({ server_id: one(p, 'a server id or name'), ...serverFields(v) }, v));
      return { reply, text: `updated ${reply.server_name}\n` };
    },
    remove: async (p, _v, { call }) => {
      const reply = await call('servers.delete', { server: one(p, 'a server id or name') });
      return { reply, text: `removed ${reply.server_name} (${reply.server_id})\n` };
    },
    test: async (p, _v, { call, spin }) => {
      const server = one(p, 'a server id or name');
      const done = spin(`testing ${server} ...`);
      const reply = await call('servers.test', { server }).finally(done);
      const healthy = reply.status === 'healthy';
      const text = healthy
        ? `${reply.server_name}: healthy, ${reply.tool_count} tools in ${reply.duration_ms} ms${reply.tools.length ? ` (${reply.tools.slice(0, 10).join(', ')}${reply.tools.length > 10 ? ', ...' : ''})` : ''}\n`
        : `${reply.server_name}: unhealthy: ${reply.error}\n`;
      return { reply, text, exit: healthy ? EXIT.ok : EXIT.failed };
    },
    health: async (p, _v, { call }) => {
      const reply = await call('servers.health', p.length ? { server: one(p, 'a server id or name') } : {});
      return { reply, text: table(reply.servers, [['name', 'server_name'], ['status', 'status'], ['tools', 'tool_count'], ['checked', 'last_checked'], ['error', 'error']]) };
    },
  },
  keys: {
    list: async (_p, v, { call }) => {
      const reply = await call('keys.list', body({ return_full_object: true, team_id: v.team, page: int('page', v.page), size: int('size', v.size) }, {}));
      return { reply, text: table(reply.keys, KEY_COLUMNS) + `page ${reply.current_page} of ${reply.total_pages} (${reply.total_count} keys)\n` };
    },
    show: async (p, _v, { call }) => {
      const reply = await call('keys.get', { key: one(p, 'a key, its token or its alias') });
      return { reply, text: fields(reply.info) };
    },
    create: async (p, v, { call }) => {
      if (p.length) throw usage(`keys create takes no arguments (got "${p[0]}"): use --alias`);
      const reply = await call('keys.create', body(keyFields(v), v));
      return { reply, text: `${reply.key}\n(created ${reply.key_alias ?? reply.key_name}; the key is shown only this once)\n` };
    },
    update: async (p, v, { call }) => {
      const reply = await call('keys.update', body({ key: one(p, 'a key, its token or its alias'), ...keyFields(v) }, v));
      return { reply, text: `updated ${reply.key_alias ?? reply.key_name}\n` };
    },
    delete: async (p, _v, { call }) => {
      if (p.length === 0) throw usage('expected one or more keys, tokens or aliases');
      const reply = await call('keys.delete', { keys: p });
      return { reply, text: `deleted ${reply.deleted_keys.length} key(s)\n` };
    },
  },
  teams: {
    list: async (_p, v, { call }) => {
      const reply = await call('teams.list', body({ organization_id: v.org }, {}));
      return { reply, text: table(reply.teams, TEAM_COLUMNS) };
    },
    show: async (p, _v, { call }) => {
      const reply = await call('teams.get', { team_id: one(p, 'a team id') });
      return { reply, text: fields(reply.team_info) + `keys: ${reply.keys.length}\n` };
    },
    create: async (p, v, { call }) => {
      if (p.length) throw usage(`teams create takes no arguments (got "${p[0]}"): use --id or --alias`);
      const reply = await call('teams.create', body({ team_id: v.id, ...teamFields(v) }, v));
      return { reply, text: `created team ${reply.team_id}\n` };
    },
    update: async (p, v, { call }) => {
      const reply = await call('teams.update', body({ team_id: one(p, 'a team id'), ...teamFields(v) }, v));
      return { reply, text: `updated team ${reply.team_id}\n` };
    },
    delete: async (p, _v, { call }) => {
      if (p.length === 0) throw usage('expected one or more team ids');
      const reply = await call('teams.delete', { team_ids: p });
      return { reply, text: `deleted ${reply.deleted_teams.length} team(s)\n` };
    },
  },
  orgs: {
    list: async (_p, _v, { call }) => {
      const reply = await call('organizations.list', {});
      return { reply, text: table(reply.organizations, ORG_COLUMNS) };
    },
    show: async (p, _v, { call }) => {
      const reply = await call('organizations.get', { organization_id: one(p, 'an organization id') });
      return { reply, text: fields(reply, ['organization_id', 'organization_alias', 'rpm_limit', 'object_permission']) + `teams: ${reply.teams.length}\n` };
    },
    create: async (p, v, { call }) => {
      if (p.length) throw usage(`orgs create takes no arguments (got "${p[0]}"): use --alias`);
      const reply = await call('organizations.create', body({ organization_id: v.id, ...orgFields(v) }, v));
      return { reply, text: `created organization ${reply.organization_id}\n` };
    },
    update: async (p, v, { call }) => {
      const reply = await call('organizations.update', body({ organization_id: one(p, 'an organization id'), ...orgFields(v) }, v));
      return { reply, text: `updated organization ${reply.organization_id}\n` };
    },
    delete: async (p, _v, { call }) => {
      if (p.length === 0) throw usage('expected one or more organization ids');
      const reply = await call('organizations.delete', { organization_ids: p });
      return { reply, text: `deleted ${reply.deleted_organizations.length} organization(s)\n` };
    },
  },
  tools: {
    list: async (_p, v, { call }) => {
      const reply = await call('tools.list', body({ server: v.server }, {}));
      return { reply, text: table(reply.tools, [['name', 'name'], ['server', (t) => t.mcp_info.server_name], ['description', (t) => (t.description ?? '').split('\n')[0].slice(0, 70)]]) };
    },
    call: async (p, v, { call, spin }) => {
      const name = one(p, 'a tool name');
      const args = json('args', v.args) ?? {};
      if (typeof args !== 'object' || Array.isArray(args)) throw usage('--args: expected a JSON object');
      const done = spin(`calling ${name} ...`);
      const reply = await call('tools.call', body({ name, arguments: args, server: v.server }, {})).finally(done);
      const text = (reply.content ?? []).map((c) => (c.type === 'text' ? c.text : JSON.stringify(c))).join('\n');
      return { reply, text: `${text}\n`, exit: reply.isError ? EXIT.failed : EXIT.ok };
    },
  },
  permissions: {
    explain: async (p, v, { call }) => {
      const asked = v.token ? { token: v.token, ...(v.resource ? { resource: v.resource } : {}) } : { key: one(p, 'the key to explain (or --token)') };
      const reply = await call('permissions.explain', asked);
      const lines = reply.servers.map((s) =>
        s.allowed
          ? `${s.server_name}: allowed (${s.granted_by.join(', ') || 'master'}): ${s.tools.join(', ') || 'no tools'}${s.removed_tools.length ? `; removed: ${s.removed_tools.map((t) => `${t.tool} (${t.removed_by.map((r) => r.level).join(',')})`).join(', ')}` : ''}`
          : `${s.server_name}: not allowed (${s.removed_by.map((r) => `${r.level}: ${r.reason}`).join('; ')})`,
      );
      const who = reply.token
        ? `token of ${reply.token.user_id} (${reply.token.issuer}; team ${reply.token.team_id ?? 'none'})`
        : (reply.key.key_alias ?? reply.key.key_name ?? 'key');
      return { reply, text: `${who}\n${lines.map((l) => `  ${l}`).join('\n')}\n` };
    },
  },
  audit: {
    tail: async (_p, v, ctx) => auditTail(v, ctx),
  },
  grants: {
    list: async (_p, v, { call }) => {
      if (!v.user) throw usage('grants list: --user is required (the gateway user whose grants to list)');
      const reply = await call('upstream-grants.list', { user_id: v.user });
      const rows = reply.grants.map((g) => ({ ...g, clients: g.clients.map((c) => c.client_name ?? c.client_id) }));
      return { reply, text: table(rows, [['server', 'server_name'], ['token', (g) => (g.has_token ? 'yes' : 'no')], ['scope', 'scope'], ['authorized', 'authorized_at'], ['clients', 'clients']]) };
    },
    revoke: async (p, v, { call }) => {
      if (!v.user) throw usage('grants revoke: --user is required (the gateway user whose grant to revoke)');
      const reply = await call('upstream-grants.revoke', { server: one(p, 'a per-user OAuth server'), user_id: v.user, ...(v.client ? { client_id: v.client } : {}) });
      const where = reply.revoked_at_authorization_server === null ? '' : reply.revoked_at_authorization_server ? '; revoked at the authorization server' : '; not revoked at the authorization server';
      return { reply, text: `${reply.server_name}: ${reply.tokens_deleted ? 'tokens deleted' : 'tokens kept'}, ${reply.clients_removed} client approval(s) removed${where}\n` };
    },
  },
};

function keyFields(v) {
  return {
    key_alias: v.alias,
    team_id: v.team,
    user_id: v.user,
    duration: v.duration,
    models: csv(v.models),
    object_permission: permission(v),
    rpm_limit: int('rpm', v.rpm),
    max_parallel_requests: int('parallel', v.parallel),
    is_admin: v.admin,
    blocked: blocked(v),
  };
}
function teamFields(v) {
  return { team_alias: v.alias, organization_id: v.org, object_permission: permission(v), models: csv(v.models), rpm_limit: int('rpm', v.rpm), max_parallel_requests: int('parallel', v.parallel), blocked: blocked(v) };
}
function orgFields(v) {
  return { organization_alias: v.alias, object_permission: permission(v), rpm_limit: int('rpm', v.rpm) };
}

/** The newest audit rows, oldest first; with --follow, new rows as they come (polling), until interrupted. */
async function auditTail(v, { call, json: asJson, write }) {
  const filters = body({ server_name: v.server, key_alias: v['key-alias'], status: v.status }, {});
  const limit = int('limit', v.limit) ?? 20;
  if (limit < 1 || limit > 500) throw usage('--limit: expected 1 to 500');
  const first = await call('audit.query', { ...filters, page_size: limit });
  const rows = [...first.rows].reverse();
  if (!v.follow) return { reply: first, text: table(rows, AUDIT_COLUMNS) };
  const print = (list) => {
    for (const row of list) write(asJson ? `${JSON.stringify(row)}\n` : table([row], AUDIT_COLUMNS).split('\n')[1] + '\n');
  };
  if (!asJson) write(table([], AUDIT_COLUMNS) === '(none)\n' ? `${AUDIT_COLUMNS.map(([t]) => t.toUpperCase()).join('  ')}\n` : '');
  print(rows);
  const seen = new Set(rows.map((r) => r.id));
  let since = rows.at(-1)?.time ?? new Date().toISOString();
  const intervalMs = (Number(v.interval ?? 2) || 2) * 1000;
  for (;;) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const page = await call('audit.query', { ...filters, since, page_size: 500 });
    const fresh = page.rows.filter((r) => !seen.has(r.id)).reverse();
    for (const r of fresh) seen.add(r.id);
    if (fresh.length) since = fresh.at(-1).time;
    print(fresh);
  }
}

/** `switchboard data …` runs `npm run data -- …` (scripts/data.mjs) with the same arguments. */
function runData(args) {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts/data.mjs'), ...args], { stdio: 'inherit' });
    child.once('exit', (code, signal) => done(code ?? (signal ? EXIT.failed : EXIT.ok)));
  });
}

// ---- main ------------------------------------------------------------------------------------------------------

async function main(argv) {
  if (argv[0] === 'data') return runData(argv.slice(1));
  // `--nats URL` as well as `--nats` alone: a URL right after --nats is its value
  const args = [...argv];
  const at = args.indexOf('--nats');
  if (at >= 0 && args[at + 1] && /^(nats:\/\/|[^-][^\s]*:\d+$)/.test(args[at + 1])) args.splice(at, 2, '--nats', `--nats-url=${args[at + 1]}`);
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw usage(error.message);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    process.stdout.write(HELP);
    return positionals.length === 0 && !values.help ? EXIT.usage : EXIT.ok;
  }
  const [group, action, ...rest] = positionals;
  const commands = COMMANDS[group];
  if (!commands) throw usage(`unknown command "${group}" (see switchboard --help)`);
  const run = commands[action];
  if (!run) throw usage(`unknown command "${[group, action].filter(Boolean).join(' ')}": expected ${group} ${Object.keys(commands).join(' | ')}`);

  const gatewayUrl = values.url ?? process.env.SWITCHBOARD_URL ?? 'http://localhost:4000';
  const key = values.key ?? process.env.SWITCHBOARD_KEY;
  const timeoutMs = (values.timeout === undefined ? 30 : Number(values.timeout)) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw usage(`--timeout: expected seconds, got "${values.timeout}"`);
  if (!key) throw new CliError('no key: set SWITCHBOARD_KEY or pass --key (the master key or an admin key)', EXIT.auth, 'UNAUTHENTICATED');

  const useNats = values.nats || values['nats-url'] !== undefined;
  const transport = useNats
    ? await natsTransport({
        natsUrl: values['nats-url'] ?? process.env.SWITCHBOARD_NATS_URL ?? 'nats://localhost:4222',
        namespace: values.namespace ?? process.env.SWITCHBOARD_NATS_NAMESPACE ?? '',
        inboxPrefix: values['inbox-prefix'] ?? '_INBOX_admin',
        key,
        timeoutMs,
      })
    : restTransport({ url: gatewayUrl, key, timeoutMs });
  const asJson = !!values.json;
  const write = (text) => process.stdout.write(text);
  try {
    const result = await run(rest, values, {
      call: (operation, request) => transport.call(operation, request),
      spin: (label) => progress(label, !asJson && process.stderr.isTTY),
      json: asJson,
      write,
    });
    write(asJson ? `${JSON.stringify(result.reply, null, 2)}\n` : result.text);
    return result.exit ?? EXIT.ok;
  } finally {
    await transport.close();
  }
}

/** Errors: one line on stderr (never the key), and with --json the envelope on stdout for scripts. */
function fail(error, asJson) {
  if (!(error instanceof CliError)) error = new CliError(error?.message ?? String(error), EXIT.failed, 'INTERNAL');
  process.stderr.write(`switchboard: ${error.message}\n`);
  if (asJson) process.stdout.write(`${JSON.stringify({ error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } }, null, 2)}\n`);
  return error.exit;
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => process.exit(code),
  (error) => process.exit(fail(error, argv.includes('--json'))),
);
