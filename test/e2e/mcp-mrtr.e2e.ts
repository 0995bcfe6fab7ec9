import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  eventually,
  generateKey,
  keyHeaders,
  printLogsOnFailure,
  rawPost,
  request,
  startEverything,
  startModernUpstream,
  startSuite,
  waitForAudit,
  type HttpEverything,
  type ModernUpstream,
  type RawReply,
  type Suite,
} from './support/index.js';

// Issue 9, done-means 2, 3 and 4: the multi round-trip (MRTR) bridge of MCP 2026-07-28, with two edge and two
// connector replicas and consecutive requests on different edges.
//   ev  server-everything (a 2025-era upstream that sends sampling, elicitation and roots requests during a call)
//   mu  the modern upstream fixture (2026-07-28 only: answers input_required itself, refuses initialize)
//   lg  the same fixture as a 2025-era upstream (sessions only) that counts what reaches it: the proof that a
//       call the gateway parks runs upstream exactly once

const MODERN = '2026-07-28';
const VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';
const CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';
const ALL_CAPABILITIES = { sampling: {}, elicitation: {}, roots: {} };
const ROOTS = [
  { uri: 'file:///mrtr/project', name: 'project' },
  { uri: 'file:///mrtr/docs', name: 'docs' },
];
/** A requestState the gateway cannot open (altered, expired, sealed for another caller). */
const INVALID_STATE = /requestState/i;
const INVALID_WORDS = /invalid|expired/i;
/** A requestState naming a call the gateway no longer holds (completed, or its connector stopped). */
const GONE_WORDS = /no longer|stopped|gone/i;
const CALL_AGAIN = /without requestState/i;

let suite: Suite | undefined;
let ev: HttpEverything;
let mu: ModernUpstream;
let lg: ModernUpstream;
const closers: { close(): Promise<void> }[] = [];

printLogsOnFailure(() => suite);

beforeAll(async () => {
  [ev, mu, lg] = await Promise.all([
    startEverything('streamableHttp'),
    startModernUpstream({ name: 'modern-fixture' }),
    startModernUpstream({ eras: 'legacy', name: 'legacy-fixture' }),
  ]);
  suite = await startSuite({
    edges: 2,
    connectors: 2,
    config: {
      mcp_servers: {
        ev: { url: ev.url, transport: 'http' },
        mu: { url: mu.url, transport: 'http' },
        lg: { url: lg.url, transport: 'http' },
      },
    },
  });
  for (const edge of suite.edgeUrls) {
    await eventually(async () => {
      const names = (await modernList(edge!, suite!.masterKey, 'tools/list')).message?.result?.tools?.map((t: { name: string }) => t.name) ?? [];
      return names.includes('ev-echo') && names.includes('lg-ask-sampling');
    }, 30_000);
  }
});

afterAll(async () => {
  await Promise.all(closers.map((c) => c.close().catch(() => undefined)));
  await suite?.stop();
  await Promise.all([ev?.stop(), mu?.close(), lg?.close()]);
});

/** Every text block of a result, joined. */
function allText(result: unknown): string {
  return ((result as { content?: { type: string; text?: string }[] } | undefined)?.content ?? [])
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('\n');
}

/** A raw 2026-07-28 request: the envelope in `_meta`, the headers mirroring it. */
function modernPost(edge: string, key: string, method: string, params: Record<string, unknown> = {}, capabilities: Record<string, unknown> = ALL_CAPABILITIES, path = '/mcp'): Promise<RawReply> {
  const name = method === 'tools/call' || method === 'prompts/get' ? (params.name as string) : method === 'resources/read' ? (params.uri as string) : undefined;
  return rawPost(`${edge}${path}`, request(method, { ...params, _meta: { [VERSION_KEY]: MODERN, [CAPABILITIES_KEY]: capabilities } }), {
    key,
    headers: { 'mcp-protocol-version': MODERN, 'mcp-method': method, ...(name ? { 'mcp-name': name } : {}) },
  });
}
const modernList = (edge: string, key: string, method: string, path = '/mcp') => modernPost(edge, key, method, {}, ALL_CAPABILITIES, path);

/** A raw modern tools/call and, when `retry` is given, the retry carrying the client's answers and the requestState. */
function callTool(edge: string, key: string, name: string, args: Record<string, unknown>, retry?: { inputResponses: Record<string, unknown>; requestState: string }) {
  return modernPost(edge, key, 'tools/call', { name, arguments: args, ...(retry ?? {}) });
}

/** Flips one character in the middle of a requestState (never the last one, whose low bits base64 may ignore). */
function tamper(state: string): string {
  const at = Math.floor(state.length / 2);
  return state.slice(0, at) + (state[at] === 'A' ? 'B' : 'A') + state.slice(at + 1);
}

/** The one input request of an input_required result: its key and the request. */
function onlyInputRequest(result: any): [string, { method: string; params: any }] {
  expect(result).toMatchObject({ resultType: 'input_required', requestState: expect.any(String) });
  const entries = Object.entries(result.inputRequests ?? {}) as [string, { method: string; params: any }][];
  expect(entries).toHaveLength(1);
  return entries[0]!;
}

function expectInvalidState(reply: RawReply) {
  expect(reply.status).toBe(200);
  expect(reply.message?.result).toBeUndefined();
  expect(reply.message?.error?.code).toBe(-32602);
  expect(reply.message.error.message).toMatch(INVALID_STATE);
  expect(reply.message.error.message).toMatch(INVALID_WORDS);
}

function expectGone(reply: RawReply) {
  expect(reply.status).toBe(200);
  expect(reply.message?.result).toBeUndefined();
  expect(reply.message?.error?.code).toBe(-32602);
  expect(reply.message.error.message).toMatch(GONE_WORDS);
  expect(reply.message.error.message).toMatch(CALL_AGAIN);
  expect(reply.message.error.data?.reason).toBe('gone');
}

/**
 * A fetch that sends every request to the other edge than the one before (nothing is remembered between requests
 * anywhere), and records what each POST carried: which edge, the method, and whether it was an MRTR retry.
 */
function alternatingFetch() {
  const bases = suite!.edgeUrls.map((u) => new URL(u!));
  const posts: { edge: number; method?: string; retry: boolean; inputRequired?: Promise<any> }[] = [];
  const hits = bases.map(() => 0);
  let turn = 0;
  const fetchImpl = (async (url: string | URL, init?: RequestInit) => {
    const target = new URL(url);
    const edge = turn++ % bases.length;
    hits[edge]!++;
    target.host = bases[edge]!.host;
    const response = await fetch(target, init);
    if (init?.method === 'POST' && typeof init.body === 'string') {
      const body = JSON.parse(init.body);
      const record: (typeof posts)[number] = { edge, method: body.method, retry: body.params?.requestState !== undefined };
      // the reply, read from a copy: an input_required result is kept for the test to look at
      record.inputRequired = response
        .clone()
        .text()
        .then((text) => {
          const json = text.startsWith('{') ? text : /^data: (.*)$/m.exec(text)?.[1];
          const parsed = json ? JSON.parse(json) : undefined;
          return parsed?.result?.resultType === 'input_required' ? parsed.result : undefined;
        })
        .catch(() => undefined);
      posts.push(record);
    }
    return response;
  }) as typeof fetch;
  return { fetch: fetchImpl, posts, hits };
}

interface Asked {
  sampling: any[];
  elicitation: any[];
  roots: number;
}

/** The official v2 client pinned to 2026-07-28, declaring sampling, elicitation and roots, with handlers for them. */
async function connectModernClient(fetchImpl: typeof fetch, asked: Asked, path = '/mcp'): Promise<ClientV2> {
  const client = new ClientV2({ name: 'mcp-mrtr-e2e', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } }, capabilities: ALL_CAPABILITIES });
  client.setRequestHandler('sampling/createMessage', async (req) => {
    asked.sampling.push(req.params);
    return { model: 'e2e-model', role: 'assistant', content: { type: 'text', text: `modern sample ${asked.sampling.length}` } };
  });
  client.setRequestHandler('elicitation/create', async (req) => {
    asked.elicitation.push(req.params);
    const content: Record<string, string | boolean> =
      req.params.message === 'Which topic?' ? { topic: `tides ${asked.elicitation.length}` } : { name: `Ada ${asked.elicitation.length}`, color: 'teal', email: 'ada@example.com', check: true };
    return { action: 'accept', content };
  });
  client.setRequestHandler('roots/list', async () => {
    asked.roots++;
    return { roots: ROOTS };
  });
  await client.connect(new TransportV2(new URL(`${suite!.edgeUrls[0]}${path}`), { requestInit: { headers: keyHeaders(suite!.masterKey) }, fetch: fetchImpl }));
  closers.push(client);
  return client;
}

/** The official v1 client (2025 sessions), declaring sampling, elicitation and roots, with handlers for them. */
async function connectLegacyClient(fetchImpl: typeof fetch, asked: Asked, path = '/mcp'): Promise<Client> {
  const client = new Client({ name: 'mcp-mrtr-e2e-v1', version: '1.0.0' }, { capabilities: ALL_CAPABILITIES });
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
    asked.sampling.push(req.params);
    return { model: 'e2e-model', role: 'assistant', content: { type: 'text', text: `legacy sample ${asked.sampling.length}` } };
  });
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    asked.elicitation.push(req.params);
    const content: Record<string, string | boolean> =
      req.params.message === 'Which topic?' ? { topic: `kernels ${asked.elicitation.length}` } : { name: `Grace ${asked.elicitation.length}`, color: 'amber', email: 'grace@example.com', check: true };
    return { action: 'accept', content };
  });
  client.setRequestHandler(ListRootsRequestSchema, async () => {
    asked.roots++;
    return { roots: ROOTS };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${suite!.edgeUrls[0]}${path}`), { requestInit: { headers: keyHeaders(suite!.masterKey) }, fetch: fetchImpl }));
  closers.push(client);
  return client;
}

/** tools/list, echo, resources, templates, prompts and completion: what works without any input from the client. */
async function exerciseBasics(client: Pick<ClientV2, 'listTools' | 'callTool' | 'listResources' | 'readResource' | 'listResourceTemplates' | 'listPrompts' | 'getPrompt' | 'complete'>, label: string) {
  const names = (await client.listTools()).tools.map((t) => t.name);
  expect(names).toEqual(expect.arrayContaining(['ev-echo', 'ev-trigger-sampling-request', 'ev-trigger-elicitation-request', 'ev-get-roots-list', 'mu-ask-sampling', 'lg-ask-sampling']));
  expect(allText(await client.callTool({ name: 'ev-echo', arguments: { message: `${label} echo` } }))).toContain(`${label} echo`);
  const { resources } = await client.listResources();
  const doc = resources.find((r) => r.uri.startsWith('demo://resource/static/document/'));
  expect(doc, 'a static document of server-everything').toBeDefined();
  expect((await client.readResource({ uri: doc!.uri })).contents[0]!.uri).toBe(doc!.uri);
  const { resourceTemplates } = await client.listResourceTemplates();
  expect(resourceTemplates.map((t) => t.name)).toContain('ev-Dynamic_Text_Resource');
  expect(JSON.stringify((await client.readResource({ uri: 'demo://resource/dynamic/text/9' })).contents)).toContain('9');
  const { prompts } = await client.listPrompts();
  expect(prompts.map((p) => p.name)).toEqual(expect.arrayContaining(['ev-args-prompt', 'mu-greeting']));
  expect(JSON.stringify((await client.getPrompt({ name: 'ev-args-prompt', arguments: { city: `${label} City` } })).messages)).toContain(`${label} City`);
  const completion = await client.complete({ ref: { type: 'ref/prompt', name: 'ev-completable-prompt' }, argument: { name: 'department', value: 'En' } });
  expect(completion.completion.values).toContain('Engineering');
}

/** server-everything's sampling, elicitation and roots tools, each answered by the client's handlers. */
async function exerciseClientRequests(client: Pick<ClientV2, 'callTool'>, asked: Asked, label: string) {
  const sampledBefore = asked.sampling.length;
  const sampled = await client.callTool({ name: 'ev-trigger-sampling-request', arguments: { prompt: `${label} prompt`, maxTokens: 20 } });
  expect(asked.sampling.length).toBe(sampledBefore + 1);
  expect(JSON.stringify(asked.sampling.at(-1).messages)).toContain(`${label} prompt`);
  expect(allText(sampled)).toContain(`sample ${sampledBefore + 1}`);

  const elicitedBefore = asked.elicitation.length;
  const elicited = await client.callTool({ name: 'ev-trigger-elicitation-request', arguments: {} });
  expect(asked.elicitation.length).toBe(elicitedBefore + 1);
  expect(asked.elicitation.at(-1).requestedSchema?.properties?.name).toBeDefined();
  expect(allText(elicited)).toMatch(/User provided the requested information/);
  expect(allText(elicited)).toContain(`- Name: ${label === 'legacy' ? 'Grace' : 'Ada'} ${elicitedBefore + 1}`);

  const roots = await client.callTool({ name: 'ev-get-roots-list', arguments: {} });
  expect(asked.roots).toBeGreaterThanOrEqual(1);
  expect(allText(roots)).toContain('file:///mrtr/project');
  expect(allText(roots)).toContain('file:///mrtr/docs');
}

describe('done-2: server-everything (2025-era) through two edges and two connectors', () => {
  it('the v2 client pinned to 2026-07-28: tools, resources, prompts and completion while requests alternate between the edges', async () => {
    const { fetch: alternating, hits } = alternatingFetch();
    const client = await connectModernClient(alternating, { sampling: [], elicitation: [], roots: 0 });
    expect(client.getNegotiatedProtocolVersion()).toBe(MODERN);
    await exerciseBasics(client, 'modern');
    expect(hits[0]).toBeGreaterThanOrEqual(4);
    expect(hits[1]).toBeGreaterThanOrEqual(4);
  });

  it("the v2 client pinned to 2026-07-28: server-everything's sampling, elicitation and roots requests come back as input_required, its handlers answer, the retry on the other edge completes", async () => {
    const { fetch: alternating, posts } = alternatingFetch();
    const asked: Asked = { sampling: [], elicitation: [], roots: 0 };
    const client = await connectModernClient(alternating, asked);
    for (let round = 1; round <= 2; round++) await exerciseClientRequests(client, asked, `modern ${round}`);

    // what went over the wire: the gateway answered input_required (the client's handlers ran for those), and
    // each retry carrying the requestState went to the other edge than the call it continued
    const calls = posts.filter((p) => p.method === 'tools/call');
    const asking = (await Promise.all(calls.map(async (p) => ({ ...p, result: await p.inputRequired })))).filter((p) => p.result);
    const methods = asking.flatMap((p) => Object.values(p.result.inputRequests ?? {}).map((r: any) => r.method));
    expect(methods).toEqual(expect.arrayContaining(['sampling/createMessage', 'elicitation/create']));
    expect(asked.sampling).toHaveLength(2);
    expect(asked.elicitation).toHaveLength(2);
    const retries = calls.filter((p) => p.retry);
    expect(retries.length).toBeGreaterThanOrEqual(4);
    for (const retry of retries) {
      const before = calls[calls.indexOf(retry) - 1]!;
      expect(before.edge).not.toBe(retry.edge);
    }
  });

  it("what server-everything keeps of a client (its roots) is never shown to another key's client", async () => {
    const clients: [string, ClientV2][] = [];
    for (const [who, key] of [
      ['first', (await generateKey(suite!, { object_permission: { mcp_servers: ['ev'] } })).key],
      ['second', (await generateKey(suite!, { object_permission: { mcp_servers: ['ev'] } })).key],
    ] as const) {
      const client = new ClientV2({ name: `mcp-mrtr-roots-${who}`, version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } }, capabilities: { roots: {} } });
      client.setRequestHandler('roots/list', async () => ({ roots: [{ uri: `file:///mrtr/${who}`, name: who }] }));
      await client.connect(new TransportV2(new URL(`${suite!.edgeUrls[who === 'first' ? 0 : 1]}/mcp`), { requestInit: { headers: keyHeaders(key) } }));
      closers.push(client);
      clients.push([who, client]);
    }
    for (const [who, client] of [...clients, ...clients]) {
      const text = allText(await client.callTool({ name: 'ev-get-roots-list', arguments: {} }));
      expect(text).toContain(`file:///mrtr/${who}`);
      expect(text).not.toContain(`file:///mrtr/${who === 'first' ? 'second' : 'first'}`);
    }
  });

  it('the v1 client (2025 sessions) still does all of it, requests alternating between the edges', async () => {
    const { fetch: alternating, hits } = alternatingFetch();
    const asked: Asked = { sampling: [], elicitation: [], roots: 0 };
    const client = await connectLegacyClient(alternating, asked);
    await exerciseBasics(client as unknown as ClientV2, 'legacy');
    await exerciseClientRequests(client as unknown as ClientV2, asked, 'legacy');
    expect(hits[0]).toBeGreaterThanOrEqual(5);
    expect(hits[1]).toBeGreaterThanOrEqual(5);
  });
});

describe('done-3: a 2026-07-28 upstream behind the gateway', () => {
  it('is reached with server/discover, never initialize, and its health names 2026-07-28', async () => {
    const { servers } = await api<{ servers: { server_name: string; status: string; protocol_version: string | null }[] }>(suite!.edgeUrls[0]!, suite!.masterKey, '/v1/mcp/server/health');
    expect(servers.find((s) => s.server_name === 'mu')).toMatchObject({ status: 'healthy', protocol_version: MODERN });
    expect(servers.find((s) => s.server_name === 'lg')?.protocol_version).toMatch(/^2025-/);
    expect(mu.stats().discover).toBeGreaterThanOrEqual(1);
    expect(mu.stats().initialize).toBe(0);
  });

  it('lists through the gateway carry the cache hints merged across servers: the smallest ttlMs', async () => {
    const edge = suite!.edgeUrls[1]!;
    const key = suite!.masterKey;
    // mu says tools/list 5 s, prompts/list 7 s, resources/list 9 s (public); the 2025-era servers get the catalog's 30 s
    expect((await modernList(edge, key, 'tools/list')).message.result).toMatchObject({ resultType: 'complete', ttlMs: 5000, cacheScope: 'public' });
    expect((await modernList(edge, key, 'prompts/list')).message.result).toMatchObject({ ttlMs: 7000, cacheScope: 'public' });
    expect((await modernList(edge, key, 'resources/list')).message.result).toMatchObject({ ttlMs: 9000, cacheScope: 'public' });
    expect((await modernList(edge, key, 'tools/list', '/mcp/mu')).message.result).toMatchObject({ ttlMs: 5000, cacheScope: 'public' });
    expect((await modernList(edge, key, 'tools/list', '/mcp/ev')).message.result).toMatchObject({ ttlMs: 30_000, cacheScope: 'public' });
  });

  it("a 2025-era client (v1, sessions) gets the modern upstream's input requests as real sampling, elicitation and roots requests, and the final results", async () => {
    const { fetch: alternating } = alternatingFetch();
    const asked: Asked = { sampling: [], elicitation: [], roots: 0 };
    const client = await connectLegacyClient(alternating, asked);
    const before = mu.stats();

    expect(allText(await client.callTool({ name: 'mu-ask-sampling', arguments: { prompt: 'legacy asks' } }))).toBe('sampled: legacy sample 1');
    expect(JSON.stringify(asked.sampling[0].messages)).toContain('legacy asks');
    expect(allText(await client.callTool({ name: 'mu-ask-elicitation', arguments: { message: 'Your name?' } }))).toBe(
      'accepted: {"name":"Grace 1","color":"amber","email":"grace@example.com","check":true}',
    );
    expect(asked.elicitation[0].message).toBe('Your name?');
    expect(allText(await client.callTool({ name: 'mu-ask-roots', arguments: {} }))).toBe('roots: file:///mrtr/project, file:///mrtr/docs');
    expect(asked.roots).toBe(1);
    expect(allText(await client.callTool({ name: 'mu-ask-both', arguments: { prompt: 'both' } }))).toBe('elicited: Grace 2; sampled: legacy sample 2');
    expect(JSON.stringify(asked.sampling[1].messages)).toContain('both (for Grace 2)');

    // every round reached the upstream once, every tool finished once
    const after = mu.stats();
    const delta = (counts: Record<string, number>, was: Record<string, number>, tool: string) => (counts[tool] ?? 0) - (was[tool] ?? 0);
    for (const [tool, rounds] of [['ask-sampling', 2], ['ask-elicitation', 2], ['ask-roots', 2], ['ask-both', 3]] as const) {
      expect(delta(after.calls, before.calls, tool), `${tool} rounds`).toBe(rounds);
      expect(delta(after.completed, before.completed, tool), `${tool} completed`).toBe(1);
    }
    expect(after.refusedStates).toBe(before.refusedStates);
  });

  it("the v2 client pinned to 2026-07-28 gets the upstream's input_required (same inputRequests) through the gateway and completes", async () => {
    const { fetch: alternating, posts } = alternatingFetch();
    const asked: Asked = { sampling: [], elicitation: [], roots: 0 };
    const client = await connectModernClient(alternating, asked);
    const before = mu.stats();

    expect(allText(await client.callTool({ name: 'mu-ask-sampling', arguments: { prompt: 'modern asks' } }))).toBe('sampled: modern sample 1');
    expect(allText(await client.callTool({ name: 'mu-ask-both', arguments: { prompt: 'two rounds' } }))).toBe('elicited: Ada 1; sampled: modern sample 2');
    expect(JSON.stringify(asked.sampling[1].messages)).toContain('two rounds (for Ada 1)');
    expect(allText(await client.callTool({ name: 'mu-ask-roots', arguments: {} }))).toBe('roots: file:///mrtr/project, file:///mrtr/docs');

    // the inputRequests the client saw are the upstream's own (its keys), behind the aggregate name
    const seen = (await Promise.all(posts.filter((p) => p.method === 'tools/call').map((p) => p.inputRequired))).filter(Boolean);
    expect(seen.map((r) => Object.keys(r.inputRequests))).toEqual([['sample'], ['profile'], ['sample'], ['roots']]);
    expect(seen[0].inputRequests.sample).toMatchObject({ method: 'sampling/createMessage', params: { messages: [{ content: { text: 'modern asks' } }] } });
    const after = mu.stats();
    expect((after.calls['ask-sampling'] ?? 0) - (before.calls['ask-sampling'] ?? 0)).toBe(2);
    expect((after.calls['ask-both'] ?? 0) - (before.calls['ask-both'] ?? 0)).toBe(3);
    expect((after.completed['ask-both'] ?? 0) - (before.completed['ask-both'] ?? 0)).toBe(1);
    expect(after.refusedStates).toBe(before.refusedStates);
  });

  it('prompts/get and resources/read that ask for input complete for both client eras, from a 2026-07-28 upstream (mu) and a 2025-era one (lg)', async () => {
    for (const [server, upstream] of [
      ['mu', mu],
      ['lg', lg],
    ] as const) {
      const before = upstream.stats();
      const path = `/mcp/${server}`;
      const modernAsked: Asked = { sampling: [], elicitation: [], roots: 0 };
      const modern = await connectModernClient(alternatingFetch().fetch, modernAsked, path);
      expect(JSON.stringify((await modern.getPrompt({ name: 'ask-topic' })).messages), server).toContain('Write about tides 1');
      expect((await modern.readResource({ uri: 'modern://guarded' })).contents[0], server).toMatchObject({ uri: 'modern://guarded', text: 'guarded: confirmed by Ada 2' });
      expect(modernAsked.elicitation.map((e) => e.message)).toEqual(['Which topic?', 'Read the guarded resource?']);

      const legacyAsked: Asked = { sampling: [], elicitation: [], roots: 0 };
      const legacy = await connectLegacyClient(alternatingFetch().fetch, legacyAsked, path);
      expect(JSON.stringify((await legacy.getPrompt({ name: 'ask-topic' })).messages), server).toContain('Write about kernels 1');
      expect((await legacy.readResource({ uri: 'modern://guarded' })).contents[0], server).toMatchObject({ uri: 'modern://guarded', text: 'guarded: confirmed by Grace 2' });
      expect(legacyAsked.elicitation.map((e) => e.message)).toEqual(['Which topic?', 'Read the guarded resource?']);

      const after = upstream.stats();
      for (const what of ['prompt:ask-topic', 'resource:guarded']) {
        expect((after.completed[what] ?? 0) - (before.completed[what] ?? 0), `${server} ${what} completed`).toBe(2);
      }
      // a 2026-07-28 upstream sees each round (2 per call); a 2025-era one each call once (its rounds stay in its session)
      const perCall = server === 'mu' ? 2 : 1;
      expect((after.methods['prompts/get'] ?? 0) - (before.methods['prompts/get'] ?? 0), `${server} prompts/get requests`).toBe(2 * perCall);
      expect((after.methods['resources/read'] ?? 0) - (before.methods['resources/read'] ?? 0), `${server} resources/read requests`).toBe(2 * perCall);
    }
  });

  it("a tampered requestState wrapping the upstream's is refused by the gateway: nothing reaches the upstream; the genuine one completes on the other edge", async () => {
    const [a, b] = suite!.edgeUrls as [string, string];
    const key = suite!.masterKey;
    const first = await callTool(a, key, 'mu-ask-sampling', { prompt: 'raw' });
    const [inputKey, asked] = onlyInputRequest(first.message.result);
    expect(inputKey).toBe('sample');
    expect(asked.method).toBe('sampling/createMessage');
    const state: string = first.message.result.requestState;
    const answer = { [inputKey]: { role: 'assistant', model: 'raw', content: { type: 'text', text: 'raw answer' } } };
    const before = mu.stats();

    expectInvalidState(await callTool(b, key, 'mu-ask-sampling', { prompt: 'raw' }, { inputResponses: answer, requestState: tamper(state) }));
    const { key: other } = await generateKey(suite!, { object_permission: { mcp_servers: ['ev', 'mu', 'lg'] } });
    expectInvalidState(await callTool(b, other, 'mu-ask-sampling', { prompt: 'raw' }, { inputResponses: answer, requestState: state }));
    expect(mu.stats().calls['ask-sampling']).toBe(before.calls['ask-sampling']);
    expect(mu.stats().refusedStates).toBe(before.refusedStates);

    const done = await callTool(b, key, 'mu-ask-sampling', { prompt: 'raw' }, { inputResponses: answer, requestState: state });
    expect(done.message.result).toMatchObject({ resultType: 'complete' });
    expect(allText(done.message.result)).toBe('sampled: raw answer');
    expect(mu.stats().completed['ask-sampling']).toBe((before.completed['ask-sampling'] ?? 0) + 1);
  });
});

describe("done-4: the gateway's own requestState for a call parked in a connector (2025-era upstreams)", () => {
  const SAMPLE = { role: 'assistant', model: 'raw', content: { type: 'text', text: 'raw sample' } };

  it('a tampered requestState and one of another key are refused with -32602, the genuine one completes on the other edge, a replay is gone; the upstream tool ran once', async () => {
    const [a, b] = suite!.edgeUrls as [string, string];
    const key = suite!.masterKey;
    const { key: other } = await generateKey(suite!, { object_permission: { mcp_servers: ['ev', 'mu', 'lg'] } });
    // the other key may call these tools itself: what it is refused below is only the requestState
    const control = await callTool(a, other, 'lg-echo', { message: 'other key' });
    expect(control.message?.result, JSON.stringify(control.message)).toMatchObject({ content: [{ type: 'text', text: 'other key' }] });

    for (const [tool, upstream] of [
      ['lg-ask-sampling', lg],
      ['ev-trigger-sampling-request', undefined],
    ] as const) {
      const args = tool === 'lg-ask-sampling' ? { prompt: 'parked once' } : { prompt: 'parked once', maxTokens: 10 };
      const before = upstream?.stats();
      const first = await callTool(a, key, tool, args);
      expect(first.status).toBe(200);
      const [inputKey, asked] = onlyInputRequest(first.message.result);
      expect(asked.method, tool).toBe('sampling/createMessage');
      expect(JSON.stringify(asked.params.messages), tool).toContain('parked once');
      const state: string = first.message.result.requestState;
      const inputResponses = { [inputKey]: SAMPLE };

      expectInvalidState(await callTool(b, key, tool, args, { inputResponses, requestState: tamper(state) }));
      expectInvalidState(await callTool(b, other, tool, args, { inputResponses, requestState: state }));

      const done = await callTool(b, key, tool, args, { inputResponses, requestState: state });
      expect(done.status).toBe(200);
      expect(done.message.result, tool).toMatchObject({ resultType: 'complete' });
      expect(allText(done.message.result)).toContain('raw sample');

      expectGone(await callTool(a, key, tool, args, { inputResponses, requestState: state }));
      expectGone(await callTool(b, key, tool, args, { inputResponses, requestState: state }));

      if (upstream && before) {
        const after = upstream.stats();
        expect((after.calls['ask-sampling'] ?? 0) - (before.calls['ask-sampling'] ?? 0), 'tools/call requests that reached the upstream').toBe(1);
        expect((after.completed['ask-sampling'] ?? 0) - (before.completed['ask-sampling'] ?? 0), 'runs that finished').toBe(1);
      }
    }
  });

  it("concurrent calls of one key share an upstream session (per key and capabilities): each gets the input request its own upstream request asked, and completes with its own answer", async () => {
    const [a, b] = suite!.edgeUrls as [string, string];
    const key = suite!.masterKey;
    // six at once over two connectors: at least three on one connector's session for this key
    const prompts = Array.from({ length: 6 }, (_, i) => `concurrent prompt ${i}`);
    const firsts = await Promise.all(prompts.map((prompt, i) => callTool(i % 2 ? b : a, key, 'lg-ask-sampling', { prompt })));
    const retries = firsts.map((first, i) => {
      expect(first.status).toBe(200);
      const [inputKey, asked] = onlyInputRequest(first.message.result);
      expect(asked.params.messages[0].content.text, `call ${i}`).toBe(prompts[i]);
      const answer = { role: 'assistant', model: 'raw', content: { type: 'text', text: `answer ${i}` } };
      return { inputResponses: { [inputKey]: answer }, requestState: first.message.result.requestState as string };
    });
    const done = await Promise.all(prompts.map((prompt, i) => callTool(i % 2 ? a : b, key, 'lg-ask-sampling', { prompt }, retries[i])));
    done.forEach((reply, i) => expect(allText(reply.message.result), `call ${i}`).toBe(`sampled: answer ${i}`));
    // the audit tells the legs apart: the first leg of each call asked for input, its retry has the outcome
    await waitForAudit(suite!, { server_name: 'lg', tool: 'ask-sampling', status: 'input_required' }, (rows) => rows.length >= 6, 10_000);
  });

  it("a requestState that is not the gateway's, or is another server's or another tool's, is refused with -32602 and forwards nothing; the parked call still completes", async () => {
    const [a, b] = suite!.edgeUrls as [string, string];
    const key = suite!.masterKey;
    const fromEv = await callTool(a, key, 'ev-trigger-sampling-request', { prompt: 'foreign', maxTokens: 10 });
    const [evKey] = onlyInputRequest(fromEv.message.result);
    const evState: string = fromEv.message.result.requestState;
    const fromLg = await callTool(a, key, 'lg-ask-sampling', { prompt: 'foreign' });
    const [lgKey] = onlyInputRequest(fromLg.message.result);
    const lgState: string = fromLg.message.result.requestState;
    const before = lg.stats();

    const answers = { [evKey]: SAMPLE, [lgKey]: SAMPLE };
    expectInvalidState(await callTool(b, key, 'lg-ask-sampling', { prompt: 'foreign' }, { inputResponses: answers, requestState: 'not-a-state-of-the-gateway' }));
    // the state of a call parked for ev, on a call of lg
    expectInvalidState(await callTool(b, key, 'lg-ask-sampling', { prompt: 'foreign' }, { inputResponses: answers, requestState: evState }));
    // the state of the parked lg-ask-sampling call, on a call of another tool of the same server
    expectInvalidState(await callTool(b, key, 'lg-echo', { message: 'not the parked call' }, { inputResponses: answers, requestState: lgState }));
    const after = lg.stats();
    expect(after.methods['tools/call'], 'tools/call requests that reached lg').toBe(before.methods['tools/call']);
    expect(after.completed['ask-sampling'] ?? 0).toBe(before.completed['ask-sampling'] ?? 0);

    const lgDone = await callTool(b, key, 'lg-ask-sampling', { prompt: 'foreign' }, { inputResponses: { [lgKey]: SAMPLE }, requestState: lgState });
    expect(allText(lgDone.message.result)).toBe('sampled: raw sample');
    const evDone = await callTool(b, key, 'ev-trigger-sampling-request', { prompt: 'foreign', maxTokens: 10 }, { inputResponses: { [evKey]: SAMPLE }, requestState: evState });
    expect(allText(evDone.message.result)).toContain('raw sample');
    expect(lg.stats().completed['ask-sampling']).toBe((before.completed['ask-sampling'] ?? 0) + 1);
  });

  it('a key that loses the server while its call is parked: the retry is refused and the call never finishes upstream', async () => {
    const [a, b] = suite!.edgeUrls as [string, string];
    const { key } = await generateKey(suite!, { object_permission: { mcp_servers: ['ev', 'lg'] } });
    const before = lg.stats();
    const first = await callTool(a, key, 'lg-ask-sampling', { prompt: 'revoked' });
    const [inputKey] = onlyInputRequest(first.message.result);
    await api(a, suite!.masterKey, '/key/update', { key, object_permission: { mcp_servers: ['ev'] } });
    for (const edge of [a, b]) {
      await eventually(async () => (await callTool(edge, key, 'lg-echo', { message: 'still?' })).message?.error?.code === -32602, 10_000);
    }
    const retry = await callTool(b, key, 'lg-ask-sampling', { prompt: 'revoked' }, { inputResponses: { [inputKey]: SAMPLE }, requestState: first.message.result.requestState });
    expect(retry.message?.result, JSON.stringify(retry.message)).toBeUndefined();
    expect(retry.message?.error?.code).toBe(-32602);
    const after = lg.stats();
    expect((after.calls['ask-sampling'] ?? 0) - (before.calls['ask-sampling'] ?? 0)).toBe(1);
    expect((after.completed['ask-sampling'] ?? 0) - (before.completed['ask-sampling'] ?? 0)).toBe(0);
  });

  it('after the connector holding parked calls is killed (kill -9) while another one serves, their requestState is gone, and nothing runs again upstream', async () => {
    const [a, b] = suite!.edgeUrls as [string, string];
    const key = suite!.masterKey;
    const connectors = suite!.processes.get('connector')!;
    // one connector left: the calls parked below can only be held by it
    await suite!.stopService('connector', 1);
    const before = lg.stats();
    const parked: { tool: string; args: Record<string, unknown>; state: string; inputKey: string }[] = [];
    for (const [tool, args] of [
      ['lg-ask-sampling', { prompt: 'doomed' }],
      ['ev-trigger-sampling-request', { prompt: 'doomed', maxTokens: 10 }],
    ] as const) {
      const first = await callTool(a, key, tool, args);
      const [inputKey] = onlyInputRequest(first.message.result);
      parked.push({ tool, args, state: first.message.result.requestState, inputKey });
    }
    expect((lg.stats().calls['ask-sampling'] ?? 0) - (before.calls['ask-sampling'] ?? 0)).toBe(1);

    // another connector joins, then the holder dies without a chance to clean up
    const { process: fresh } = await suite!.startService('connector');
    await fresh.waitForLine(/connector ready/, 30_000);
    const holder = connectors[0]!;
    holder.stoppedOnPurpose = true;
    holder.child.kill('SIGKILL');
    await holder.exited;
    // the other connector serves: echo works through both edges
    for (const edge of [a, b]) {
      await eventually(async () => allText((await callTool(edge, key, 'lg-echo', { message: 'back' })).message?.result) === 'back', 30_000);
    }

    for (const { tool, args, state, inputKey } of parked) {
      expectGone(await callTool(b, key, tool, args, { inputResponses: { [inputKey]: SAMPLE }, requestState: state }));
      expectGone(await callTool(a, key, tool, args, { inputResponses: { [inputKey]: SAMPLE }, requestState: state }));
    }
    const after = lg.stats();
    expect((after.calls['ask-sampling'] ?? 0) - (before.calls['ask-sampling'] ?? 0), 'tools/call requests that reached the upstream').toBe(1);
    expect((after.completed['ask-sampling'] ?? 0) - (before.completed['ask-sampling'] ?? 0), 'runs that finished').toBe(0);

    // calling again without requestState works on the connector left
    const again = await callTool(a, key, 'lg-ask-sampling', { prompt: 'again' });
    const [inputKey] = onlyInputRequest(again.message.result);
    const done = await callTool(b, key, 'lg-ask-sampling', { prompt: 'again' }, { inputResponses: { [inputKey]: SAMPLE }, requestState: again.message.result.requestState });
    expect(allText(done.message.result)).toBe('sampled: raw sample');
    expect((lg.stats().completed['ask-sampling'] ?? 0) - (before.completed['ask-sampling'] ?? 0)).toBe(1);
  });
});
