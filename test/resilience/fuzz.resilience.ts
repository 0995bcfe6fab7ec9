import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyInfo, McpServerView, OrganizationInfo, TeamInfo } from '#libs/contracts';
import { FULL, printLogsOnFailure, startGateway, until, type Gateway } from './support/gateway.js';
import { FuzzTally, printTallies, send, type RawRequest, type RawResponse } from './support/fuzz-http.js';
import { ADMIN_CORPUS, MCP_CORPUS, REQUEST_STATE_CORPUS } from './support/corpus.js';

// Issue 15, hostile input: property-based and corpus fuzzing (fast-check) of the edge's JSON-RPC handling for both
// protocol eras (bodies, the MCP headers, sizes, encodings), of requestState values, and of the admin API. Per
// target: inputs tried, crashes (a service process gone), 5xx not explained by an upstream's failure, requests
// that got no answer, and the edge's RSS (sampled). After the admin API: everything stored is well formed and
// nothing refused was stored (rows counted against the creates that answered 200).
// Inputs per target: 10,000 with RESILIENCE_LOAD=full; 1,000 otherwise (plus the corpus). FUZZ_SEED replays a run.

const RUNS = Number(process.env.FUZZ_RUNS ?? (FULL ? 10_000 : 1_000));
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const MAX_BODY = 4 * 1024 * 1024;

let gateway: Gateway | undefined;
let edge = '';
let key = '';
const sessions: string[] = [];
const tallies: FuzzTally[] = [];

printLogsOnFailure(() => gateway);

const MCP_METHODS = [
  'initialize',
  'notifications/initialized',
  'ping',
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'resources/subscribe',
  'resources/unsubscribe',
  'completion/complete',
  'logging/setLevel',
  'server/discover',
  'subscriptions/listen',
  'notifications/cancelled',
  'notifications/roots/list_changed',
];
const VERSIONS = ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];
const VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';
const CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';
const INFO_KEY = 'io.modelcontextprotocol/clientInfo';

/** Header values as HTTP carries them (Latin-1 without controls). */
const headerText = fc.stringMatching(/^[\x20-\x7e\x80-\xff]{0,80}$/);
const anyJson = fc.jsonValue({ maxDepth: 3 });
const version = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...VERSIONS) }, { weight: 1, arbitrary: fc.string({ maxLength: 20 }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 0 }) });
const capabilities = fc.oneof(fc.constant({}), fc.constant({ sampling: {} }), fc.constant({ roots: { listChanged: true }, elicitation: {} }), fc.jsonValue({ maxDepth: 2 }));
const jsonRpcId = fc.oneof({ weight: 4, arbitrary: fc.integer() }, { weight: 2, arbitrary: fc.string({ maxLength: 24 }) }, fc.constant(null), fc.double(), fc.jsonValue({ maxDepth: 1 }));
// never res-hang: a call it holds is the slow-upstream tests' business, not the fuzzer's
const toolName = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('res-work', 'res-fail', 'res-ask', 'work', 'res2-work', 'nope') }, { weight: 1, arbitrary: fc.string({ maxLength: 70 }) });
const meta = fc.record(
  { [VERSION_KEY]: version, [CAPABILITIES_KEY]: capabilities, [INFO_KEY]: fc.jsonValue({ maxDepth: 1 }), progressToken: jsonRpcId },
  { requiredKeys: [] },
);
const params = fc.oneof(
  { weight: 4, arbitrary: fc.record({ name: toolName, arguments: fc.oneof(fc.record({ id: fc.string({ maxLength: 12 }), ms: fc.integer({ min: 0, max: 30 }) }), anyJson), _meta: meta }, { requiredKeys: [] }) },
  {
    weight: 3,
    arbitrary: fc.record(
      {
        uri: fc.string({ maxLength: 40 }),
        cursor: fc.string({ maxLength: 40 }),
        level: fc.constantFrom('debug', 'info', 'emergency', 'bogus'),
        protocolVersion: version,
        capabilities,
        clientInfo: fc.jsonValue({ maxDepth: 1 }),
        requestState: fc.string({ maxLength: 60 }),
        inputResponses: anyJson,
        ref: anyJson,
        argument: anyJson,
        requestId: jsonRpcId,
        notifications: anyJson,
        _meta: meta,
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: anyJson },
);
/** `good` mostly, `bad` about one time in ten: most requests get past the first check and reach the deeper ones. */
const mostly = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>, badWeight = 1) => fc.oneof({ weight: 9, arbitrary: good }, { weight: badWeight, arbitrary: bad });
const WEIGHTED_METHODS = [...MCP_METHODS, 'tools/call', 'tools/call', 'tools/call', 'tools/list', 'tools/list', 'resources/read', 'prompts/get'];
const message = fc.record(
  {
    jsonrpc: mostly(fc.constant('2.0'), fc.jsonValue({ maxDepth: 0 })),
    id: mostly(fc.oneof(fc.integer(), fc.string({ maxLength: 24 })), jsonRpcId),
    method: mostly(fc.constantFrom(...WEIGHTED_METHODS), fc.oneof(fc.string({ maxLength: 30 }), fc.jsonValue({ maxDepth: 0 }))),
    params,
  },
  { requiredKeys: ['jsonrpc', 'method'] },
) as fc.Arbitrary<Record<string, any>>;

type BodyKind = 'message' | 'batch' | 'json' | 'bytes' | 'utf16' | 'bom' | 'big' | 'over-limit' | 'empty';

/** One hostile MCP request, kept as data (printable when it fails) and turned into bytes when sent. */
interface McpInput {
  method: string;
  path: string;
  kind: BodyKind;
  message: Record<string, any> | undefined;
  batch: Record<string, any>[];
  json: unknown;
  bytes: Uint8Array;
  bigSize: number;
  headers: Record<string, string | undefined>;
}

function mcpInputs(): fc.Arbitrary<McpInput> {
  const absentOr = (values: fc.Arbitrary<string>) => fc.option(values, { nil: undefined, freq: 2 });
  return fc
    .record({
      method: fc.oneof({ weight: 17, arbitrary: fc.constant('POST') }, { weight: 2, arbitrary: fc.constant('GET') }, { weight: 1, arbitrary: fc.constantFrom('DELETE', 'PUT', 'PATCH', 'OPTIONS') }),
      path: fc.oneof(
        { weight: 14, arbitrary: fc.constant('/mcp') },
        { weight: 2, arbitrary: fc.constantFrom('/mcp/res', '/res/mcp', '/mcp/res2', '/mcp/', '/mcp/nope', '/mcp-rest/tools/call') },
        { weight: 2, arbitrary: fc.stringMatching(/^[\x21-\x7e]{0,30}$/).map((s) => `/mcp/${s.replace(/[?#]/g, '')}`) },
        { weight: 1, arbitrary: fc.stringMatching(/^[\x21-\x7e]{0,30}$/).map((s) => `/messages?sessionId=${s.replace(/#/g, '')}`) },
      ),
      kind: fc.constantFrom<BodyKind>(...(['message', 'message', 'message', 'message', 'message', 'message', 'message', 'message', 'batch', 'json', 'bytes', 'utf16', 'bom', 'big', 'empty'] as BodyKind[])).chain((k) =>
        // over the body limit: rare (each is 4 MiB on the wire)
        fc.integer({ min: 0, max: 199 }).map((n) => (n === 0 ? 'over-limit' : k)),
      ),
      // the era the request means to speak: its envelope and headers are right most of the time
      modern: fc.boolean(),
      envelope: mostly(fc.constant(true), fc.constant(false)),
      message,
      batch: fc.array(message, { maxLength: 5 }),
      json: anyJson,
      bytes: fc.uint8Array({ maxLength: 2048 }),
      bigSize: fc.integer({ min: 10 * 1024, max: 1024 * 1024 }),
      version: mostly(fc.constant('right'), absentOr(fc.oneof(fc.constantFrom(...VERSIONS), headerText))),
      mirror: mostly(fc.constant('body'), fc.constantFrom('other', 'none')),
      nameForm: mostly(fc.constantFrom('plain', 'base64'), fc.constantFrom('bad-base64', 'other', 'none')),
      other: headerText,
      session: mostly(fc.constantFrom(0, 1), fc.constantFrom(2, -1, -2)),
      sessionText: headerText,
      contentType: mostly(fc.constantFrom('application/json', 'application/json; charset=utf-8'), fc.oneof(fc.constantFrom('text/plain', 'application/json; charset=utf-16le', ''), headerText)),
      accept: mostly(fc.constantFrom('application/json, text/event-stream', '*/*'), fc.oneof(fc.constantFrom('application/json', 'text/event-stream', ''), headerText)),
      auth: mostly(fc.constant('key'), fc.oneof(fc.constant('none'), headerText)),
      origin: mostly(fc.constant(undefined), fc.oneof(fc.constant('http://127.0.0.1'), headerText), 1),
      lastEventId: fc.option(fc.oneof(fc.constantFrom('p.0a1b2c.MQ.1', '0a1b2c-1', 'p.zz.e30.1'), headerText), { nil: undefined, freq: 10 }),
    })
    .map((r) => {
      const body = r.modern && r.envelope && r.message.params !== null && typeof r.message.params === 'object' && !Array.isArray(r.message.params)
        ? { ...r.message, params: { ...r.message.params, _meta: { ...(r.message.params._meta ?? {}), [VERSION_KEY]: '2026-07-28', [CAPABILITIES_KEY]: r.message.params._meta?.[CAPABILITIES_KEY] ?? {} } } }
        : r.message;
      const name = typeof body.params?.name === 'string' ? body.params.name : typeof body.params?.uri === 'string' ? body.params.uri : undefined;
      const plainName = name !== undefined && /^[\x20-\x7e]*$/.test(name) ? name : undefined;
      const headers: Record<string, string | undefined> = {
        'content-type': r.contentType,
        accept: r.accept,
        'mcp-protocol-version': r.version === 'right' ? (r.modern ? '2026-07-28' : '2025-11-25') : r.version,
        'mcp-method': !r.modern ? undefined : r.mirror === 'body' && typeof body.method === 'string' ? body.method : r.mirror === 'other' ? r.other : undefined,
        'mcp-name':
          name === undefined || !r.modern
            ? undefined
            : r.nameForm === 'plain'
              ? (plainName ?? `=?base64?${Buffer.from(name, 'utf8').toString('base64')}?=`)
              : r.nameForm === 'base64'
                ? `=?base64?${Buffer.from(name, 'utf8').toString('base64')}?=`
                : r.nameForm === 'bad-base64'
                  ? `=?base64?${r.other}?=`
                  : r.nameForm === 'other'
                    ? r.other
                    : undefined,
        'mcp-session-id': r.modern ? undefined : r.session === -1 ? r.sessionText : r.session === -2 ? undefined : sessions[r.session],
        origin: r.origin,
        'last-event-id': r.lastEventId,
        authorization: r.auth === 'key' ? `Bearer ${key}` : r.auth === 'none' ? undefined : r.auth,
      };
      return { method: r.method, path: r.path, kind: r.kind, message: body, batch: r.batch, json: r.json, bytes: r.bytes, bigSize: r.bigSize, headers };
    });
}

function mcpBody(input: McpInput): Buffer | undefined {
  if (input.method === 'GET' || input.method === 'DELETE' || input.method === 'OPTIONS') return undefined;
  switch (input.kind) {
    case 'message':
      return Buffer.from(JSON.stringify(input.message));
    case 'batch':
      return Buffer.from(JSON.stringify(input.batch));
    case 'json':
      return Buffer.from(JSON.stringify(input.json) ?? 'null');
    case 'bytes':
      return Buffer.from(input.bytes);
    case 'utf16':
      return Buffer.from(JSON.stringify(input.message), 'utf16le');
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(input.message))]);
    case 'big':
      return Buffer.from(JSON.stringify({ ...input.message, params: { ...(typeof input.message?.params === 'object' ? input.message.params : {}), padding: 'x'.repeat(input.bigSize) } }));
    case 'over-limit':
      return Buffer.alloc(MAX_BODY + 1024, 0x20);
    case 'empty':
      return Buffer.alloc(0);
  }
}

function toRaw(input: McpInput): RawRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers)) if (value !== undefined && value !== '') headers[name] = value;
  return { method: input.method, path: input.path, headers, body: mcpBody(input) };
}

/** A 5xx an upstream's failure explains: the reply names the upstream error codes. */
function upstreamExplains(response: RawResponse): boolean {
  return (response.status === 502 || response.status === 503 || response.status === 504) && /UPSTREAM_|upstream|MCP server/i.test(response.text);
}

function edgePid(): number {
  return gateway!.suite.processes.get('edge')![0]!.child.pid!;
}

/** Every service process still running (a crash is a process gone). */
function crashed(): string[] {
  return [...gateway!.suite.processes.values()].flat().filter((p) => p.child.exitCode !== null || p.child.signalCode !== null).map((p) => p.name);
}

async function runTarget<T>(name: string, corpus: T[], arbitrary: fc.Arbitrary<T>, run: (input: T, tally: FuzzTally) => Promise<void>): Promise<FuzzTally> {
  const tally = new FuzzTally(name);
  tallies.push(tally);
  tally.watch(edgePid());
  try {
    for (const input of corpus) await run(input, tally);
    await fc.assert(
      fc.asyncProperty(arbitrary, async (input) => {
        await run(input, tally);
        return true;
      }),
      { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), endOnFailure: true },
    );
  } finally {
    tally.stop(edgePid());
  }
  tally.crashes = crashed().length;
  const alive = await fetch(`${edge}/health/liveliness`).then((r) => r.status, () => 0);
  if (alive !== 200) tally.crashes++;
  printTallies(`fuzz target: ${name}`, [tally]);
  return tally;
}

beforeAll(async () => {
  gateway = await startGateway({ replicas: 1 });
  const g = gateway;
  edge = g.suite.edgeUrls[0]!;
  // res2: the same upstream under another name (for another server's requestState)
  const added = await fetch(`${edge}/v1/mcp/server`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${g.suite.masterKey}` },
    body: JSON.stringify({ server_name: 'res2', url: g.upstream.url, transport: 'http', timeout: 2 }),
  });
  expect([200, 201]).toContain(added.status);
  const generated = await fetch(`${edge}/key/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${g.suite.masterKey}` },
    body: JSON.stringify({ key_alias: 'fuzz', object_permission: { mcp_servers: ['res', 'res2'] } }),
  });
  key = ((await generated.json()) as { key: string }).key;
  const admin = await fetch(`${edge}/key/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${g.suite.masterKey}` },
    body: JSON.stringify({ key_alias: 'fuzz-admin', is_admin: true }),
  });
  adminKey = ((await admin.json()) as { key: string }).key;
  await until('the catalog lists res and res2', async () => {
    const reply = await fetch(`${edge}/mcp-rest/tools/list`, { headers: { authorization: `Bearer ${key}` } });
    const text = await reply.text();
    return text.includes('"res-work"') && text.includes('"res2-ask"');
  }, 60_000);
  // sessions the fuzzer may name: one plain, one declaring sampling, one of another key
  for (const [capabilities, as] of [
    [{}, key],
    [{ sampling: {} }, key],
    [{}, g.suite.masterKey],
  ] as const) {
    const reply = await fetch(`${edge}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${as}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities, clientInfo: { name: 'fuzz', version: '1' } } }),
    });
    await reply.text();
    sessions.push(reply.headers.get('mcp-session-id')!);
  }
}, 180_000);

afterAll(async () => {
  printTallies('fuzzing (per target)', tallies);
  await gateway?.stop();
}, 60_000);

describe('fuzzing the edge', () => {
  it(`JSON-RPC on /mcp, both eras (bodies, MCP headers, sizes, encodings): ${RUNS} inputs and the corpus, no crash, no unexpected 5xx`, async () => {
    const corpus: (McpInput | RawRequest)[] = MCP_CORPUS.map((c) => c(key, sessions));
    const tally = await runTarget('edge JSON-RPC, both eras', corpus, mcpInputs() as fc.Arbitrary<McpInput | RawRequest>, async (input, t) => {
      const request = 'kind' in (input as object) ? toRaw(input as McpInput) : (input as unknown as RawRequest);
      const outcome = await send(edge, request).catch((error: Error) => error);
      t.record(input, outcome, !(outcome instanceof Error) && upstreamExplains(outcome));
    });
    expect(tally.crashes).toBe(0);
    expect(tally.fiveHundreds).toBe(0);
    expect(tally.hung).toBe(0);
    expect(tally.rss.end - tally.rss.start).toBeLessThan(150);
  }, 900_000);

  it(`requestState values (garbage, tampered, oversized, another server's): ${RUNS} inputs and the corpus, each refused with -32602, never a 5xx`, async () => {
    // a real requestState: a 2026-07-28 call of res-ask declaring sampling parks at the connector
    const first = await modernCall('res-ask', { id: 'fuzz-state' });
    const state = first.result?.requestState as string;
    expect(typeof state).toBe('string');
    const mutated = fc.oneof(
      { weight: 4, arbitrary: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }).map((flips) => flipChars(state, flips)) },
      { weight: 2, arbitrary: fc.nat().map((n) => state.slice(0, n % state.length)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((tail) => state + tail) },
      { weight: 2, arbitrary: fc.base64String({ maxLength: 400 }).map((b) => `sb1.${b.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`) },
      { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).filter((v) => typeof v !== 'string' && v !== undefined) },
      { weight: 1, arbitrary: fc.integer({ min: 64 * 1024, max: 1024 * 1024 }).map((n) => `sb1.${'A'.repeat(n)}`) },
      { weight: 1, arbitrary: fc.constant({ server: 'res2', state }) },
    );
    const cases = fc.record({ state: mutated, responses: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 })) });
    const tally = await runTarget('requestState', REQUEST_STATE_CORPUS(state).map((s) => ({ state: s as unknown, responses: undefined as unknown })), cases, async ({ state: candidate, responses }, t) => {
      const otherServer = typeof candidate === 'object' && candidate !== null && (candidate as { server?: string }).server === 'res2';
      const requestState = otherServer ? state : candidate;
      if (requestState === state && !otherServer) return; // the real one, unaltered, is not hostile input
      const outcome = await modernCall(otherServer ? 'res2-ask' : 'res-ask', { id: 'fuzz-state' }, { requestState, ...(responses === undefined ? {} : { inputResponses: responses }) }).then(
        (reply) => reply,
        (error: Error) => error,
      );
      if (outcome instanceof Error) return t.record(candidate, outcome);
      t.record(candidate, outcome.response);
      const code = outcome.error?.code;
      if (outcome.response.status < 500 && code !== -32602) t.example(`answered ${outcome.response.status} ${outcome.response.text.slice(0, 200)}`, candidate);
      if (code !== -32602) wrongAnswers++;
    });
    expect(tally.crashes).toBe(0);
    expect(tally.fiveHundreds).toBe(0);
    expect(tally.hung).toBe(0);
    expect(wrongAnswers).toBe(0);
    // the real state still continues its call: nothing the fuzzer sent consumed or broke it
    const done = await modernCall('res-ask', { id: 'fuzz-state' }, { requestState: state, inputResponses: sampleAnswers(first.result?.inputRequests) });
    expect(done.result?.content?.[0]?.text).toMatch(/^sampled /);
  }, 900_000);

  it(`the admin API (/key/generate, /team/new, /organization/new, /v1/mcp/server, updates): ${RUNS} inputs and the corpus; nothing stored half-written`, async () => {
    const before = await rowCounts();
    const created = { keys: 0, teams: 0, organizations: 0, servers: 0 };
    const teamIds: string[] = [];
    const tally = await runTarget('admin API', ADMIN_CORPUS, adminInputs(() => teamIds), async (input, t) => {
      const outcome = await send(edge, {
        method: input.method,
        path: input.path,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: input.raw === undefined ? Buffer.from(JSON.stringify(input.body) ?? '') : Buffer.from(input.raw),
      }).catch((error: Error) => error);
      t.record(input, outcome);
      if (outcome instanceof Error || outcome.status < 200 || outcome.status > 299) return;
      const reply = JSON.parse(outcome.text) as Record<string, unknown>;
      if (input.path === '/key/generate') created.keys++;
      if (input.path === '/team/new') {
        created.teams++;
        teamIds.push(String(reply.team_id));
      }
      if (input.path === '/organization/new') created.organizations++;
      if (input.path === '/v1/mcp/server' && input.method === 'POST') created.servers++;
    });
    expect(tally.crashes).toBe(0);
    expect(tally.fiveHundreds).toBe(0);
    expect(tally.hung).toBe(0);
    // nothing refused was stored: the rows are exactly those before plus the creates that answered 200
    const after = await rowCounts();
    process.stdout.write(`admin API: created ${JSON.stringify(created)}; rows before ${JSON.stringify(before)}, after ${JSON.stringify(after)}\n`);
    expect(after).toEqual({ keys: before.keys + created.keys, teams: before.teams + created.teams, organizations: before.organizations + created.organizations, servers: before.servers + created.servers });
    // and everything stored reads back well formed through the API
    const keys = await listAll('/key/list?return_full_object=true&size=100', 'keys');
    expect(keys.length).toBe(after.keys);
    for (const k of keys) KeyInfo.parse(k);
    for (const t of await listAll('/team/list', 'teams')) TeamInfo.parse(t);
    for (const o of await listAll('/organization/list', 'organizations')) OrganizationInfo.parse(o);
    const servers = (await (await fetch(`${edge}/v1/mcp/server`, { headers: { authorization: `Bearer ${gateway!.suite.masterKey}` } })).json()) as unknown[];
    expect(servers.length).toBe(after.servers);
    for (const s of servers) McpServerView.parse(s);
  }, 1_800_000);
});

let wrongAnswers = 0;
/** An admin key (not the master key): stdio servers need a listed command, so the fuzzer never starts a process. */
let adminKey = '';

function flipChars(state: string, flips: [number, number][]): string {
  const chars = [...state];
  for (const [at, by] of flips) {
    const i = 4 + (at % Math.max(1, chars.length - 4)); // past the "sb1." prefix
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const current = alphabet.indexOf(chars[i]!);
    chars[i] = alphabet[(current + by) % alphabet.length]!;
  }
  return chars.join('');
}

function sampleAnswers(requests: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.keys(requests ?? {}).map((k) => [k, { model: 'fuzz', role: 'assistant', content: { type: 'text', text: 'ok' } }]));
}

/** A 2026-07-28 tools/call declaring sampling, with the headers mirroring it. */
async function modernCall(name: string, args: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<{ response: RawResponse; result?: any; error?: { code: number; message: string } }> {
  const body = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args, ...extra, _meta: { [VERSION_KEY]: '2026-07-28', [CAPABILITIES_KEY]: { sampling: {} } } } };
  const response = await send(edge, {
    method: 'POST',
    path: '/mcp',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${key}`,
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': name,
    },
    body: Buffer.from(JSON.stringify(body)),
  });
  let parsed: { result?: unknown; error?: { code: number; message: string } } = {};
  try {
    parsed = JSON.parse(response.text);
  } catch {
    // not JSON: recorded as it is
  }
  return { response, result: parsed.result, error: parsed.error };
}

interface AdminInput {
  method: string;
  path: string;
  body?: unknown;
  raw?: string;
}

function adminInputs(teamIds: () => string[]): fc.Arbitrary<AdminInput> {
  // mostly well-typed fields, so that a good share of requests get past validation into the services
  const maybe = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 12, arbitrary: good }, { weight: 1, arbitrary: anyJson });
  const alias = fc.oneof(fc.constantFrom('alpha', 'beta', 'gamma', 'delta', null), fc.string({ maxLength: 12 }));
  const serverName = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('fz_a', 'fz_b', 'fz_c', 'fz_d', 'fz_e', 'res', 'res2') }, { weight: 1, arbitrary: fc.string({ maxLength: 20 }) });
  // only addresses on this machine or refused ones: the registry checks what a name resolves to
  const url = fc.oneof(
    fc.constantFrom('http://127.0.0.1:1/mcp', 'http://127.0.0.1:1/sse', 'http://169.254.169.254/mcp', 'http://[::1]:1/mcp', 'ftp://127.0.0.1/mcp', 'http://127.0.0.1:99999/mcp', 'not a url', ''),
    fc.stringMatching(/^[a-z0-9/._~-]{0,20}$/).map((p) => `http://127.0.0.1:1/${p}`),
  );
  const permission = fc.record(
    {
      mcp_servers: maybe(fc.array(serverName, { maxLength: 3 })),
      mcp_access_groups: maybe(fc.array(fc.constantFrom('g1', 'g2', 'nope'), { maxLength: 2 })),
      mcp_tool_permissions: maybe(fc.dictionary(serverName, fc.array(fc.constantFrom('work', 'ask', 'res-work', 'nope'), { maxLength: 2 }), { maxKeys: 2 })),
    },
    { requiredKeys: [] },
  );
  const common = {
    object_permission: maybe(fc.option(permission, { nil: null })),
    rpm_limit: maybe(fc.oneof(fc.integer(), fc.constant(null))),
    max_parallel_requests: maybe(fc.oneof(fc.integer({ min: -5, max: 1_000 }), fc.constant(null))),
    models: maybe(fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 })),
    metadata: maybe(fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 3 })),
    blocked: maybe(fc.boolean()),
  };
  const teamRef = mostly(fc.nat().map((n) => teamIds()[n % Math.max(1, teamIds().length)] ?? 'missing'), fc.string({ maxLength: 40 }));
  const extra = fc.dictionary(fc.string({ maxLength: 10 }), anyJson, { maxKeys: 2 });
  const withExtra = <T extends Record<string, unknown>>(body: fc.Arbitrary<T>) =>
    fc.tuple(body, fc.integer({ min: 0, max: 5 }), extra).map(([b, add, more]) => (add === 0 ? { ...more, ...b } : b));
  const keyBody = withExtra(
    fc.record({ key_alias: maybe(alias), team_id: maybe(teamRef), duration: maybe(mostly(fc.constantFrom('30d', '1h', '0s', '1000y'), fc.constantFrom('forever', '-1d', '10x', '1001y', '9999999999999d'))), is_admin: maybe(fc.boolean()), user_id: maybe(fc.string({ maxLength: 20 })), key: maybe(fc.constantFrom(`sk-${'a'.repeat(20)}`, 'sk-short', 'nope')), ...common }, { requiredKeys: [] }),
  );
  const teamBody = withExtra(fc.record({ team_alias: maybe(alias), organization_id: maybe(fc.string({ maxLength: 40 })), team_id: maybe(fc.string({ maxLength: 40 })), ...common }, { requiredKeys: [] }));
  const orgBody = withExtra(fc.record({ organization_alias: maybe(alias), object_permission: common.object_permission }, { requiredKeys: [] }));
  const serverBody = withExtra(
    fc.record(
      {
        server_name: serverName,
        url,
        transport: maybe(fc.constantFrom('http', 'sse', 'stdio', 'htp')),
        command: maybe(fc.constantFrom('node', 'definitely-not-a-command')),
        args: maybe(fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 })),
        auth_type: maybe(fc.constantFrom('none', 'bearer_token', 'api_key', 'oauth2', 'basic', 'weird')),
        auth_value: maybe(fc.string({ maxLength: 20 })),
        access_groups: maybe(fc.array(fc.constantFrom('g1', 'g2', ''), { maxLength: 2 })),
        allowed_tools: maybe(fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 })),
        disallowed_tools: maybe(fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 })),
        timeout: maybe(fc.oneof(fc.double(), fc.integer({ min: -1, max: 5_000 }))),
        allow_all_keys: maybe(fc.boolean()),
        static_headers: maybe(fc.dictionary(fc.stringMatching(/^[a-z-]{1,10}$/), fc.string({ maxLength: 10 }), { maxKeys: 2 })),
        spec_version: maybe(fc.constantFrom('2025-11-25', '1999-01-01')),
      },
      { requiredKeys: [] },
    ),
  );
  const updateServer = withExtra(fc.record({ server_id: fc.oneof(serverName, fc.uuid()), url: maybe(fc.oneof(url, fc.constant(null))), description: maybe(fc.oneof(fc.string({ maxLength: 30 }), fc.constant(null))), timeout: anyJson }, { requiredKeys: [] }));
  const updateKey = withExtra(fc.record({ key: fc.oneof(fc.constantFrom('fuzz', 'alpha', 'missing'), fc.string({ maxLength: 30 })), key_alias: maybe(alias), ...common }, { requiredKeys: [] }));
  return fc.oneof(
    { weight: 6, arbitrary: keyBody.map((body) => ({ method: 'POST', path: '/key/generate', body })) },
    { weight: 4, arbitrary: teamBody.map((body) => ({ method: 'POST', path: '/team/new', body })) },
    { weight: 2, arbitrary: orgBody.map((body) => ({ method: 'POST', path: '/organization/new', body })) },
    { weight: 4, arbitrary: serverBody.map((body) => ({ method: 'POST', path: '/v1/mcp/server', body })) },
    { weight: 1, arbitrary: updateServer.map((body) => ({ method: 'PUT', path: '/v1/mcp/server', body })) },
    { weight: 2, arbitrary: updateKey.map((body) => ({ method: 'POST', path: '/key/update', body })) },
    { weight: 1, arbitrary: withExtra(fc.record({ team_id: teamRef, team_alias: maybe(alias), ...common }, { requiredKeys: [] })).map((body) => ({ method: 'POST', path: '/team/update', body })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('/key/generate', '/team/new', '/v1/mcp/server'), fc.string({ maxLength: 200 })).map(([path, raw]) => ({ method: 'POST', path, raw })) },
  );
}

async function rowCounts(): Promise<{ keys: number; teams: number; organizations: number; servers: number }> {
  const client = new pg.Client({ connectionString: gateway!.suite.databaseUrl });
  await client.connect();
  try {
    const count = async (table: string) => Number((await client.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n);
    return { keys: await count('keys'), teams: await count('teams'), organizations: await count('organizations'), servers: await count('mcp_servers') };
  } finally {
    await client.end();
  }
}

/** Every item of a list endpoint (all pages where it pages). */
async function listAll(path: string, field: string): Promise<unknown[]> {
  const items: unknown[] = [];
  for (let page = 1; ; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const reply = await fetch(`${edge}${path}${path.startsWith('/key/list') ? `${sep}page=${page}` : ''}`, { headers: { authorization: `Bearer ${gateway!.suite.masterKey}` } });
    expect(reply.status).toBe(200);
    const body = (await reply.json()) as Record<string, unknown>;
    items.push(...((body[field] as unknown[]) ?? []));
    if (!path.startsWith('/key/list') || page >= Number(body.total_pages ?? 1)) return items;
  }
}
