/**
 * Hand-written hostile inputs, run before the generated ones: shapes a generator rarely hits (deep nesting,
 * prototype keys, malformed percent-encoding, lone surrogates, huge batches, numbers at the edges).
 */
import type { RawRequest } from './fuzz-http.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
/** `{"a":{"a":…1…}}` as text (JSON.stringify itself would run out of stack on the deepest). */
const nestedText = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
/** A JSON text with `{{deep}}` replaced by a nested object of `depth`. */
const withDeep = (value: unknown, depth: number) => Buffer.from(JSON.stringify(value).replace('"{{deep}}"', nestedText(depth)));
const DEEP = '{{deep}}';
const nestedArray = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** MCP requests, given the fuzzer's key and its sessions (plain, sampling, another key's). */
export const MCP_CORPUS: ((key: string, sessions: string[]) => RawRequest)[] = [];
function mcp(body: Buffer | string | undefined, extra: Partial<RawRequest> & { session?: number; version?: string } = {}): void {
  MCP_CORPUS.push((key, sessions) => ({
    method: extra.method ?? 'POST',
    path: extra.path ?? '/mcp',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${key}`,
      ...(extra.session !== undefined ? { 'mcp-session-id': sessions[extra.session]!, 'mcp-protocol-version': extra.version ?? '2025-11-25' } : {}),
      ...extra.headers,
    },
    body: typeof body === 'string' ? Buffer.from(body) : body,
  }));
}
const call = (params: unknown, id: unknown = 1) => json({ jsonrpc: '2.0', id, method: 'tools/call', params });
const modernBody = (method: string, params: Record<string, unknown>) => ({
  jsonrpc: '2.0',
  id: 1,
  method,
  params: { ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } },
});
const modern = (method: string, params: Record<string, unknown>) => json(modernBody(method, params));
const modernHeaders = (method: string, name?: string) => ({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...(name !== undefined ? { 'mcp-name': name } : {}) });

// deep nesting, in the body and in what is forwarded upstream
mcp(nestedArray(100_000));
mcp(nestedText(5_000));
mcp(withDeep({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'res-work', arguments: DEEP } }, 5_000), { session: 0 });
mcp(withDeep({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'res-work', arguments: { id: 'deep', x: DEEP } } }, 800), { session: 0 });
mcp(withDeep(modernBody('tools/call', { name: 'res-work', arguments: DEEP }), 5_000), { headers: modernHeaders('tools/call', 'res-work') });
mcp(withDeep(modernBody('tools/call', { name: 'res-work', arguments: { id: 'deep', x: DEEP } }), 800), { headers: modernHeaders('tools/call', 'res-work') });
// prototype keys as methods, names, ids and fields
for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype']) {
  mcp(json({ jsonrpc: '2.0', id: 1, method: name, params: {} }), { session: 0 });
  mcp(call({ name }), { session: 0 });
  mcp(call({ name: `res-${name}` }), { session: 0 });
  mcp(modern('tools/call', { name }), { headers: modernHeaders('tools/call', name) });
  mcp(undefined, { method: 'POST', path: `/mcp/${name}`, headers: {} });
}
mcp('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"__proto__":{"name":"res-work"},"name":"res-fail"}}', { session: 0 });
mcp('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"__proto__":{"protocolVersion":"2025-11-25"}}}');
mcp('{"jsonrpc":"2.0","id":1,"id":2,"method":"ping","method":"tools/list"}', { session: 0 });
// numbers and strings at the edges
for (const id of ['1e400', '-0', '1.5', '9007199254740993', '"\\ud800"', '"\\u0000"', '{}', '[]', 'true']) mcp(`{"jsonrpc":"2.0","id":${id},"method":"ping"}`, { session: 0 });
mcp(call({ name: 'res-work', arguments: { id: '\ud800\udfff\ud800', ms: 1e308 } }), { session: 0 });
mcp(call({ name: 'res-work', arguments: { id: 'x', ms: -1 } }), { session: 0 });
mcp(call({ name: '\u0000res-work' }), { session: 0 });
// batches: empty, huge, mixed, with initialize
mcp('[]', { session: 0 });
mcp(json(Array.from({ length: 5_000 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' }))), { session: 0 });
mcp(json(Array.from({ length: 200 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'res-work', arguments: { id: `batch-${i}` } } }))), { session: 0 });
mcp(json([{ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }, { jsonrpc: '2.0', id: 2, method: 'ping' }]));
mcp(json([1, 'two', null, [], {}]), { session: 0 });
// encodings
mcp(Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), 'utf16le'), { session: 0 });
mcp(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), 'utf16le')]), { session: 0 });
mcp(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]), { session: 0 });
mcp(Buffer.from([0xed, 0xa0, 0x80]), { session: 0 });
mcp('{"jsonrpc":"2.0","id":1,"method":"ping"}', { session: 0, headers: { 'content-encoding': 'gzip' } });
mcp('{"jsonrpc":"2.0","id":1,"method":"ping"}', { session: 0, headers: { 'content-type': 'application/json; charset=utf-16' } });
// headers
mcp(modern('tools/call', { name: 'res-work', arguments: { id: 'h' } }), { headers: { ...modernHeaders('tools/call'), 'mcp-name': '=?base64?' } });
mcp(modern('tools/call', { name: 'res-work', arguments: { id: 'h' } }), { headers: { ...modernHeaders('tools/call'), 'mcp-name': '=?base64?=?=' } });
mcp(modern('tools/call', { name: 'res-work', arguments: { id: 'h' } }), { headers: { ...modernHeaders('tools/call'), 'mcp-name': '=?base64?/w==?=' } });
mcp(modern('tools/call', { name: 'res-work', arguments: { id: 'h' } }), { headers: { ...modernHeaders('tools/call'), 'mcp-name': `=?base64?${'A'.repeat(8000)}?=` } });
mcp(modern('tools/call', { name: 'res-work', arguments: { id: 'h' } }), { headers: { 'mcp-protocol-version': '2026-07-28, 2025-11-25', 'mcp-method': 'tools/call', 'mcp-name': 'res-work' } });
mcp(modern('server/discover', {}), { headers: { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'server/discover' } });
mcp(withDeep(modernBody('subscriptions/listen', { notifications: DEEP }), 50), { headers: modernHeaders('subscriptions/listen') });
mcp(modern('subscriptions/listen', { notifications: { resourceSubscriptions: Array.from({ length: 10_000 }, (_, i) => `res://${i}`) } }), { headers: modernHeaders('subscriptions/listen') });
mcp(json({ jsonrpc: '2.0', id: 1, method: 'ping' }), { headers: { 'mcp-session-id': 'x'.repeat(8_000), 'mcp-protocol-version': '2025-11-25' } });
mcp(json({ jsonrpc: '2.0', id: 1, method: 'ping' }), { session: 2 }); // another key's session
mcp(undefined, { method: 'GET', session: 0, headers: { accept: 'text/event-stream', 'last-event-id': `p.0a1b2c.${'A'.repeat(600)}.1` } });
mcp(undefined, { method: 'GET', session: 0, headers: { accept: 'text/event-stream', 'last-event-id': 'ffffffffffff-99999999999999999999' } });
mcp(undefined, { method: 'DELETE', session: 2 });
// paths
for (const path of ['/mcp/%E0%A4%A', '/mcp/%', '/mcp/%00', '/mcp/..%2f..%2fetc%2fpasswd', '/%E0%A4%A/mcp', '/mcp/res%2Fx', `/mcp/${'a'.repeat(5_000)}`, '/messages?sessionId=%E0%A4%A', '/messages']) {
  mcp(json({ jsonrpc: '2.0', id: 1, method: 'ping' }), { path, session: 0 });
}

/** requestState values, given a real one. */
export const REQUEST_STATE_CORPUS = (state: string): unknown[] => [
  '',
  'sb1.',
  'sb1.A',
  `sb1.${'A'.repeat(100)}`,
  'sb1.!!!!',
  `sb2.${state.slice(4)}`,
  state.toUpperCase(),
  ` ${state}`,
  `${state}=`,
  `${state}\u0000`,
  [...state].reverse().join(''),
  state.slice(0, -1),
  `${state}${state.slice(4)}`,
  `sb1.${'A'.repeat(65 * 1024)}`,
  null,
  0,
  -1,
  true,
  [],
  [state],
  {},
  { requestState: state },
];

/** Admin API requests (master key). */
export const ADMIN_CORPUS: { method: string; path: string; body?: unknown; raw?: string }[] = [];
for (const path of ['/key/generate', '/team/new', '/organization/new', '/v1/mcp/server', '/key/update', '/team/update']) {
  const method = 'POST';
  for (const raw of ['', 'null', '[]', '"x"', '1e400', '{', '{"a":', '\u0000', nestedArray(50_000), `{"metadata":${nestedText(2_000)}}`, `{"key_alias":"deep","metadata":${nestedText(200)}}`]) {
    ADMIN_CORPUS.push({ method, path, raw });
  }
  for (const body of [
    {},
    { __proto__: { is_admin: true } },
    JSON.parse('{"__proto__":{"is_admin":true},"constructor":{"prototype":{"x":1}}}'),
    { key_alias: 'x'.repeat(10_000), team_alias: 'x'.repeat(10_000), organization_alias: 'x'.repeat(10_000) },
    { rpm_limit: 1e308, max_parallel_requests: -1 },
    { rpm_limit: 'NaN', max_parallel_requests: 1.5 },
    { duration: '9999999999999d' },
    { duration: '1e3d' },
    { team_id: '__proto__' },
    { organization_id: '__proto__' },
    { object_permission: { mcp_servers: Array.from({ length: 10_000 }, (_, i) => `s${i}`) } },
    { object_permission: { mcp_tool_permissions: { __proto__: ['x'] } } },
    { object_permission: { mcp_tool_permissions: JSON.parse('{"__proto__":["x"]}') } },
    { metadata: { a: 'x'.repeat(3 * 1024 * 1024) } },
    { server_name: '__proto__', url: 'http://127.0.0.1:1/mcp' },
    { server_name: 'constructor', url: 'http://127.0.0.1:1/mcp', transport: 'http' },
    { server_name: 'fz_z', url: 'http://127.0.0.1:1/mcp', transport: 'stdio' },
    { server_name: 'fz_y', transport: 'stdio', command: 'definitely-not-a-command' },
    { server_name: 'fz_x', url: 'http://169.254.169.254/latest/meta-data', transport: 'http' },
    { server_name: 'fz_w', url: 'http://[fd00:ec2::254]/mcp' },
    { server_name: 'fz_v', url: 'http://127.0.0.1:1/mcp', static_headers: { 'bad\nheader': 'x' }, extra_headers: ['\u0000'] },
    { server_name: 'fz_u', url: 'http://127.0.0.1:1/mcp', timeout: 1e-300 },
    { server_name: 'fz_t', url: 'http://127.0.0.1:1/mcp', auth_type: 'oauth2' },
    { key: 'missing', key_alias: null },
    { key: `sk-${'a'.repeat(20)}`, team_id: null },
  ]) {
    ADMIN_CORPUS.push({ method, path, body });
  }
}
ADMIN_CORPUS.push({ method: 'PUT', path: '/v1/mcp/server', body: { server_id: '__proto__' } });
ADMIN_CORPUS.push({ method: 'PUT', path: '/v1/mcp/server', body: { server_id: 'res', url: null } });
ADMIN_CORPUS.push({ method: 'PUT', path: '/v1/mcp/server', body: { server_id: 'res', transport: 'stdio' } });
