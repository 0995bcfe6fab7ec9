import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, eventually, generateKey, keyHeaders, MODES, printLogsOnFailure, rawPost, request, startEverything, startSuite, textOf, type HttpEverything, type Suite } from './support/index.js';

// Issue 9, done-means 1 and 2 (the stateless part): MCP 2026-07-28 on the same endpoints as the 2025 revisions,
// through the gateway to server-everything (a 2025-era upstream), driven by the official v2 client pinned to
// 2026-07-28 and in `auto` mode; the v1 client on the same endpoints still gets its sessions.

const MODERN = '2026-07-28';
const VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';
const CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';

async function connectModern(url: string, key: string, mode: 'auto' | { pin: string }, fetchImpl?: typeof fetch): Promise<ClientV2> {
  const client = new ClientV2({ name: 'mcp-modern-e2e', version: '1.0.0' }, { versionNegotiation: { mode } });
  await client.connect(new TransportV2(new URL(url), { requestInit: { headers: keyHeaders(key) }, ...(fetchImpl ? { fetch: fetchImpl } : {}) }));
  return client;
}

/** A raw 2026-07-28 request: the envelope in `_meta` and the headers mirroring it. */
function modernRequest(method: string, params: Record<string, unknown> = {}, version = MODERN) {
  return request(method, { ...params, _meta: { [VERSION_KEY]: version, [CAPABILITIES_KEY]: {} } });
}
const modernHeaders = (method: string, extra: Record<string, string> = {}) => ({ 'mcp-protocol-version': MODERN, 'mcp-method': method, ...extra });

describe.each(MODES)('MCP 2026-07-28 beside the 2025 revisions (%s)', (mode) => {
  let suite: Suite | undefined;
  let upstream: HttpEverything;
  const clients: { close(): Promise<void> }[] = [];
  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    upstream = await startEverything('streamableHttp');
    suite = await startSuite({ mode, config: { mcp_servers: { ev: { url: upstream.url, transport: 'http' } } } });
    await eventually(async () => {
      const reply = await rawPost(`${suite!.edgeUrls[0]}/mcp`, modernRequest('tools/list'), { key: suite!.masterKey, headers: modernHeaders('tools/list') });
      return (reply.message?.result?.tools ?? []).some((t: { name: string }) => t.name === 'ev-echo');
    }, 30_000);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await suite?.stop();
    await upstream?.stop();
  });

  describe.each([
    ['/mcp', 'ev-'],
    ['/mcp/ev', ''],
  ])('the v2 client pinned to 2026-07-28 on %s', (path, prefix) => {
    let client: ClientV2;
    beforeAll(async () => {
      client = await connectModern(`${suite!.edgeUrls[0]}${path}`, suite!.masterKey, { pin: MODERN });
      clients.push(client);
    });

    it('negotiates the modern era through server/discover', () => {
      expect(client.getProtocolEra()).toBe('modern');
      expect(client.getNegotiatedProtocolVersion()).toBe(MODERN);
    });

    it('lists and calls tools', async () => {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain(`${prefix}echo`);
      const result = await client.callTool({ name: `${prefix}echo`, arguments: { message: 'modern hello' } });
      expect(textOf(result)).toContain('modern hello');
      const sum = await client.callTool({ name: `${prefix}get-sum`, arguments: { a: 2, b: 40 } });
      expect(textOf(sum)).toContain('42');
    });

    it('lists and reads resources and templates', async () => {
      const { resources } = await client.listResources();
      const doc = resources.find((r) => r.uri.startsWith('demo://resource/static/document/'));
      expect(doc).toBeDefined();
      const read = await client.readResource({ uri: doc!.uri });
      expect(read.contents[0]!.uri).toBe(doc!.uri);
      const { resourceTemplates } = await client.listResourceTemplates();
      expect(resourceTemplates.map((t) => t.name)).toContain(path === '/mcp' ? 'ev-Dynamic_Text_Resource' : 'Dynamic Text Resource');
      const dynamic = await client.readResource({ uri: 'demo://resource/dynamic/text/7' });
      expect(JSON.stringify(dynamic.contents)).toContain('7');
    });

    it('gets a prompt and completes an argument', async () => {
      const { prompts } = await client.listPrompts();
      expect(prompts.map((p) => p.name)).toContain(`${prefix}args-prompt`);
      const prompt = await client.getPrompt({ name: `${prefix}args-prompt`, arguments: { city: 'Lisbon', state: 'LX' } });
      expect(JSON.stringify(prompt.messages)).toContain('Lisbon');
      const completion = await client.complete({ ref: { type: 'ref/prompt', name: `${prefix}completable-prompt` }, argument: { name: 'department', value: 'En' } });
      expect(completion.completion.values).toContain('Engineering');
    });

    it('relays progress of a long-running tool on the response stream', async () => {
      const progress: number[] = [];
      const result = await client.callTool({ name: `${prefix}trigger-long-running-operation`, arguments: { duration: 0.6, steps: 3 } }, { onprogress: (p) => void progress.push(p.progress) });
      expect(textOf(result)).toMatch(/completed/i);
      expect(progress.length).toBeGreaterThanOrEqual(2);
    });
  });

  it('an auto client negotiates 2026-07-28 with the gateway', async () => {
    const client = await connectModern(`${suite!.edgeUrls[0]}/mcp`, suite!.masterKey, 'auto');
    clients.push(client);
    expect(client.getProtocolEra()).toBe('modern');
    expect(client.getNegotiatedProtocolVersion()).toBe(MODERN);
    expect(textOf(await client.callTool({ name: 'ev-echo', arguments: { message: 'auto' } }))).toContain('auto');
  });

  it('the v1 client on the same endpoint still opens a 2025 session', async () => {
    const client = await connectClient(`${suite!.edgeUrls[0]}/mcp`, suite!.masterKey);
    clients.push(client);
    expect(client.getServerCapabilities()?.tools).toBeDefined();
    expect(textOf(await client.callTool({ name: 'ev-echo', arguments: { message: 'legacy' } }))).toContain('legacy');
  });

  it('answers a modern request without a session, and marks results as the revision wants', async () => {
    const reply = await rawPost(`${suite!.edgeUrls[0]}/mcp`, modernRequest('tools/list'), { key: suite!.masterKey, headers: modernHeaders('tools/list') });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('mcp-session-id')).toBeNull();
    expect(reply.message.result).toMatchObject({ resultType: 'complete', cacheScope: expect.stringMatching(/^(public|private)$/), ttlMs: expect.any(Number) });
    expect(reply.message.result._meta['io.modelcontextprotocol/serverInfo'].name).toBe('switchboard');
    const discover = await rawPost(`${suite!.edgeUrls[0]}/mcp`, modernRequest('server/discover'), { key: suite!.masterKey, headers: modernHeaders('server/discover') });
    expect(discover.message.result.supportedVersions).toEqual(expect.arrayContaining([MODERN, '2025-11-25', '2025-06-18', '2025-03-26']));
  });

  it('refuses an unsupported version with -32022 and the supported list', async () => {
    const reply = await rawPost(`${suite!.edgeUrls[0]}/mcp`, modernRequest('tools/list', {}, '2099-01-01'), {
      key: suite!.masterKey,
      headers: { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'tools/list' },
    });
    expect(reply.status).toBe(400);
    expect(reply.message.error.code).toBe(-32022);
    expect(reply.message.error.data.supported).toContain(MODERN);
  });

  it('refuses headers that disagree with the body with 400 and -32020', async () => {
    const url = `${suite!.edgeUrls[0]}/mcp`;
    const key = suite!.masterKey;
    const wrongVersion = await rawPost(url, modernRequest('tools/list'), { key, headers: modernHeaders('tools/list', { 'mcp-protocol-version': '2025-11-25' }) });
    expect([wrongVersion.status, wrongVersion.message.error.code]).toEqual([400, -32020]);
    const wrongMethod = await rawPost(url, modernRequest('tools/list'), { key, headers: modernHeaders('prompts/list') });
    expect([wrongMethod.status, wrongMethod.message.error.code]).toEqual([400, -32020]);
    const call = modernRequest('tools/call', { name: 'ev-echo', arguments: { message: 'x' } });
    const wrongName = await rawPost(url, call, { key, headers: modernHeaders('tools/call', { 'mcp-name': 'ev-get-sum' }) });
    expect([wrongName.status, wrongName.message.error.code]).toEqual([400, -32020]);
    const rightName = await rawPost(url, call, { key, headers: modernHeaders('tools/call', { 'mcp-name': 'ev-echo' }) });
    expect(rightName.status).toBe(200);
    expect(textOf(rightName.message.result)).toContain('x');
  });

  it('gives lists cache hints merged across servers: public for what every caller sees, private when permissions filter it', async () => {
    const url = `${suite!.edgeUrls[0]}/mcp`;
    const list = (key: string, method: string) => rawPost(url, modernRequest(method), { key, headers: modernHeaders(method) });
    for (const method of ['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list']) {
      const reply = await list(suite!.masterKey, method);
      expect(reply.message.result, method).toMatchObject({ resultType: 'complete', ttlMs: 30_000, cacheScope: 'public' });
    }
    const { key: whole } = await generateKey(suite!, { object_permission: { mcp_servers: ['ev'] } });
    expect((await list(whole, 'tools/list')).message.result.cacheScope).toBe('public');
    const { key: narrowed } = await generateKey(suite!, { object_permission: { mcp_servers: ['ev'], mcp_tool_permissions: { ev: ['echo'] } } });
    const filtered = (await list(narrowed, 'tools/list')).message.result;
    expect(filtered.tools.map((t: { name: string }) => t.name)).toEqual(['ev-echo']);
    expect(filtered.cacheScope).toBe('private');
    const doc = (await list(suite!.masterKey, 'resources/list')).message.result.resources[0];
    const read = await rawPost(url, modernRequest('resources/read', { uri: doc.uri }), { key: suite!.masterKey, headers: modernHeaders('resources/read', { 'mcp-name': doc.uri }) });
    expect(read.message.result).toMatchObject({ resultType: 'complete', ttlMs: 0, cacheScope: 'private' });
  });

  it('still refuses a key it does not know, on the modern path too', async () => {
    const reply = await rawPost(`${suite!.edgeUrls[0]}/mcp`, modernRequest('tools/list'), { key: 'sk-not-a-key', headers: modernHeaders('tools/list') });
    expect(reply.status).toBe(401);
  });

  it("a pinned v2 client declaring sampling, elicitation and roots: server-everything's requests during a call come back as input_required and its handlers answer them", async () => {
    const asked = { sampling: 0, elicitation: 0, roots: 0 };
    const client = new ClientV2({ name: 'mcp-modern-mrtr', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } }, capabilities: { sampling: {}, elicitation: {}, roots: {} } });
    client.setRequestHandler('sampling/createMessage', async () => ({ model: 'e2e', role: 'assistant', content: { type: 'text', text: `mrtr sample ${++asked.sampling}` } }));
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { name: `Mrtr ${++asked.elicitation}` } }));
    client.setRequestHandler('roots/list', async () => ({ roots: [{ uri: `file:///modern/${++asked.roots}` }] }));
    await client.connect(new TransportV2(new URL(`${suite!.edgeUrls[0]}/mcp`), { requestInit: { headers: keyHeaders(suite!.masterKey) } }));
    clients.push(client);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['ev-trigger-sampling-request', 'ev-trigger-elicitation-request', 'ev-get-roots-list']));
    const sampled = await client.callTool({ name: 'ev-trigger-sampling-request', arguments: { prompt: 'mrtr', maxTokens: 10 } });
    expect(asked.sampling).toBe(1);
    expect(JSON.stringify(sampled.content)).toContain('mrtr sample 1');
    const elicited = await client.callTool({ name: 'ev-trigger-elicitation-request', arguments: {} });
    expect(asked.elicitation).toBe(1);
    expect(JSON.stringify(elicited.content)).toContain('Name: Mrtr 1');
    const roots = await client.callTool({ name: 'ev-get-roots-list', arguments: {} });
    expect(asked.roots).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(roots.content)).toContain('file:///modern/');
  });

  it('a requestState whose parked call was lost with its connector (the process restarted) is gone: -32602, call again', async () => {
    const url = `${suite!.edgeUrls[0]}/mcp`;
    const key = suite!.masterKey;
    const call = (extra: Record<string, unknown> = {}) =>
      rawPost(
        url,
        request('tools/call', { name: 'ev-trigger-sampling-request', arguments: { prompt: 'lost', maxTokens: 10 }, ...extra, _meta: { [VERSION_KEY]: MODERN, [CAPABILITIES_KEY]: { sampling: {} } } }),
        { key, headers: modernHeaders('tools/call', { 'mcp-name': 'ev-trigger-sampling-request' }) },
      );
    const first = await call();
    expect(first.message.result).toMatchObject({ resultType: 'input_required', requestState: expect.any(String) });
    const [inputKey] = Object.keys(first.message.result.inputRequests);
    const retry = { inputResponses: { [inputKey!]: { role: 'assistant', model: 'e2e', content: { type: 'text', text: 'too late' } } }, requestState: first.message.result.requestState };
    if (mode === 'one-process') {
      await suite!.restart!();
    } else {
      const connector = suite!.processes.get('connector')![0]!;
      connector.stoppedOnPurpose = true;
      connector.child.kill('SIGKILL');
      await connector.exited;
      await suite!.startService('connector');
    }
    await eventually(async () => {
      const reply = await rawPost(url, modernRequest('tools/call', { name: 'ev-echo', arguments: { message: 'up' } }), { key, headers: modernHeaders('tools/call', { 'mcp-name': 'ev-echo' }) });
      return textOf(reply.message?.result ?? {}).includes('up');
    }, 30_000);
    const gone = await call(retry);
    expect(gone.status).toBe(200);
    expect(gone.message.error).toMatchObject({ code: -32602, data: { reason: 'gone' } });
    expect(gone.message.error.message).toMatch(/without requestState/);
    // calling again without requestState asks again
    expect((await call()).message.result).toMatchObject({ resultType: 'input_required' });
  });
});

describe('a pinned v2 client across two edges and two connectors (distributed)', () => {
  let suite: Suite | undefined;
  let upstream: HttpEverything;
  let client: ClientV2 | undefined;
  const hits = [0, 0];
  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    upstream = await startEverything('streamableHttp');
    suite = await startSuite({ edges: 2, connectors: 2, config: { mcp_servers: { ev: { url: upstream.url, transport: 'http' } } } });
    const bases = suite.edgeUrls.map((u) => new URL(u));
    let turn = 0;
    // every request to the other edge than the one before: nothing is remembered between them anywhere
    const roundRobin = ((url: string | URL, init?: RequestInit) => {
      const target = new URL(url);
      const i = turn++ % bases.length;
      hits[i]!++;
      target.host = bases[i]!.host;
      return fetch(target, init);
    }) as typeof fetch;
    await eventually(async () => {
      const reply = await rawPost(`${suite!.edgeUrls[1]}/mcp`, modernRequest('tools/list'), { key: suite!.masterKey, headers: modernHeaders('tools/list') });
      return (reply.message?.result?.tools ?? []).some((t: { name: string }) => t.name === 'ev-echo');
    }, 30_000);
    client = await connectModern(`${suite.edgeUrls[0]}/mcp`, suite.masterKey, { pin: MODERN }, roundRobin);
  });

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await suite?.stop();
    await upstream?.stop();
  });

  it('serves tools, resources, prompts and completion while consecutive requests alternate between the edges', async () => {
    for (let i = 0; i < 3; i++) {
      expect(textOf(await client!.callTool({ name: 'ev-echo', arguments: { message: `round ${i}` } }))).toContain(`round ${i}`);
      expect((await client!.listTools()).tools.map((t) => t.name)).toContain('ev-get-sum');
      const read = await client!.readResource({ uri: `demo://resource/dynamic/text/${i + 1}` });
      expect(JSON.stringify(read.contents)).toContain(String(i + 1));
      const prompt = await client!.getPrompt({ name: 'ev-args-prompt', arguments: { city: `City${i}` } });
      expect(JSON.stringify(prompt.messages)).toContain(`City${i}`);
      const completion = await client!.complete({ ref: { type: 'ref/prompt', name: 'ev-completable-prompt' }, argument: { name: 'department', value: 'En' } });
      expect(completion.completion.values).toContain('Engineering');
    }
    // 12 requests besides the lists (the client reuses tools/list for its ttlMs) and the discover probe
    expect(hits[0]).toBeGreaterThanOrEqual(6);
    expect(hits[1]).toBeGreaterThanOrEqual(6);
  });
});
