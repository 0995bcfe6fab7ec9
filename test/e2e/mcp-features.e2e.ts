import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConformanceServer, type ConformanceServer } from '../fixtures/conformance-server.js';
import { startCountingServer, type CountingServer } from '../fixtures/counting-server.js';
import {
  api,
  eventually,
  generateKey,
  keyHeaders,
  MODES,
  printLogsOnFailure,
  rawInitialize,
  rawPost,
  request,
  startEverything,
  startSuite,
  textOf,
  toolNames,
  type HttpEverything,
  type Suite,
} from './support/index.js';

// Issue 8, done-means 2 and 4: all of MCP through the gateway with server-everything behind it, on /mcp and on
// /mcp/{server}, driven by the official SDK client (v1) declaring sampling, elicitation and roots.

interface Seen {
  sampling: number;
  elicitation: number;
  roots: number;
  logs: string[];
  updated: string[];
  toolsChanged: number;
  /** What the client answers to roots/list. */
  rootList: { uri: string; name: string }[];
}

async function connectFull(url: string, key: string, seen: Seen): Promise<Client> {
  const client = new Client({ name: 'mcp-features-e2e', version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } });
  client.setRequestHandler(CreateMessageRequestSchema, async () => {
    seen.sampling++;
    return { model: 'e2e-model', role: 'assistant', content: { type: 'text', text: 'sampled by the client' } };
  });
  client.setRequestHandler(ElicitRequestSchema, async () => {
    seen.elicitation++;
    return { action: 'accept', content: { name: 'Ada', color: 'red', email: 'ada@example.com', checked: true } };
  });
  client.setRequestHandler(ListRootsRequestSchema, async () => {
    seen.roots++;
    return { roots: seen.rootList };
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void seen.logs.push(String(n.params.data)));
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void seen.updated.push(n.params.uri));
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => void seen.toolsChanged++);
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: keyHeaders(key) } }));
  return client;
}

async function connectPlain(url: string, key: string): Promise<Client> {
  const client = new Client({ name: 'mcp-features-plain', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: keyHeaders(key) } }));
  return client;
}

const newSeen = (): Seen => ({ sampling: 0, elicitation: 0, roots: 0, logs: [], updated: [], toolsChanged: 0, rootList: [{ uri: 'file:///e2e/workspace', name: 'e2e workspace' }] });

describe.each(MODES)('all of MCP through the gateway (%s)', (mode) => {
  let suite: Suite | undefined;
  let upstream: HttpEverything;
  let fixture: ConformanceServer;
  let counting: CountingServer;
  const clients: Client[] = [];
  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    upstream = await startEverything('streamableHttp');
    fixture = await startConformanceServer();
    counting = await startCountingServer();
    suite = await startSuite({
      mode,
      config: { mcp_servers: { ev: { url: upstream.url, transport: 'http' }, conf: { url: fixture.url, transport: 'http' }, count: { url: counting.url, transport: 'http' } } },
    });
    const { sessionId } = await rawInitialize(`${suite.edgeUrls[0]}/mcp`, suite.masterKey);
    await eventually(async () => {
      const reply = await rawPost(`${suite!.edgeUrls[0]}/mcp`, request('prompts/list'), { key: suite!.masterKey, sessionId, protocolVersion: '2025-11-25' });
      const names = (reply.message?.result?.prompts ?? []).map((p: { name: string }) => p.name);
      return names.includes('ev-args-prompt') && names.includes('conf-test_simple_prompt');
    }, 30_000);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await suite?.stop();
    await upstream?.stop();
    await fixture?.close();
    await counting?.close();
  });

  describe.each([
    ['/mcp', 'ev-'],
    ['/mcp/ev', ''],
  ])('on %s', (path, prefix) => {
    let client: Client;
    const seen = newSeen();
    beforeAll(async () => {
      client = await connectFull(`${suite!.edgeUrls[0]}${path}`, suite!.masterKey, seen);
      clients.push(client);
    });

    it('lists the sampling, elicitation and roots tools only to a client that declares those capabilities', async () => {
      const full = await toolNames(client);
      expect(full).toEqual(expect.arrayContaining([`${prefix}trigger-sampling-request`, `${prefix}trigger-elicitation-request`, `${prefix}get-roots-list`, `${prefix}echo`]));
      const plain = await connectPlain(`${suite!.edgeUrls[0]}${path}`, suite!.masterKey);
      clients.push(plain);
      const plainNames = await toolNames(plain);
      expect(plainNames).toContain(`${prefix}echo`);
      expect(plainNames).not.toContain(`${prefix}trigger-sampling-request`);
      // and it cannot call what it was not shown
      await expect(plain.callTool({ name: `${prefix}trigger-sampling-request`, arguments: { prompt: 'x' } })).rejects.toThrow(/Unknown tool/);
    });

    it('lists and reads resources (URIs as the upstream gave them) and reads through a template', async () => {
      const { resources } = await client.listResources();
      const doc = resources.find((r) => r.uri.startsWith('demo://resource/static/document/'));
      expect(doc).toBeDefined();
      expect(resources.some((r) => r.uri.startsWith('test://'))).toBe(path === '/mcp'); // the fixture's, on the aggregate only
      const read = await client.readResource({ uri: doc!.uri });
      expect(read.contents[0]!.uri).toBe(doc!.uri);
      const { resourceTemplates } = await client.listResourceTemplates();
      // aggregate names follow the tool naming rules (characters outside [A-Za-z0-9_-] become _)
      expect(resourceTemplates.map((t) => t.name)).toContain(path === '/mcp' ? 'ev-Dynamic_Text_Resource' : 'Dynamic Text Resource');
      const dynamic = await client.readResource({ uri: 'demo://resource/dynamic/text/7' });
      expect(JSON.stringify(dynamic.contents)).toContain('7');
    });

    it('gets a prompt with arguments and completes an argument', async () => {
      const prompt = await client.getPrompt({ name: `${prefix}args-prompt`, arguments: { city: 'Lisbon', state: 'LX' } });
      expect(JSON.stringify(prompt.messages)).toContain('Lisbon');
      const completion = await client.complete({ ref: { type: 'ref/prompt', name: `${prefix}completable-prompt` }, argument: { name: 'department', value: 'En' } });
      expect(completion.completion.values).toContain('Engineering');
    });

    it('relays progress notifications of a long-running tool', async () => {
      const progress: number[] = [];
      const result = await client.callTool({ name: `${prefix}trigger-long-running-operation`, arguments: { duration: 1, steps: 4 } }, undefined, {
        onprogress: (p) => void progress.push(p.progress),
      });
      expect(textOf(result)).toMatch(/completed/i);
      expect(progress.length).toBeGreaterThanOrEqual(3);
    });

    it('cancels a running call: the upstream request is cancelled', async () => {
      const controller = new AbortController();
      let first!: () => void;
      const started = new Promise<void>((resolve) => (first = resolve));
      const call = client.callTool({ name: `${prefix}trigger-long-running-operation`, arguments: { duration: 30, steps: 30 } }, undefined, {
        signal: controller.signal,
        onprogress: () => first(),
      });
      await started;
      controller.abort('e2e cancels');
      await expect(call).rejects.toThrow();
      await eventually(() => /cancelled request \d+: cancelling it upstream/.test(suite!.logs()), 10_000);
    });

    it('relays a sampling request and an elicitation request to the client, and roots/list', async () => {
      const before = { ...seen };
      const sampled = await client.callTool({ name: `${prefix}trigger-sampling-request`, arguments: { prompt: 'hello', maxTokens: 20 } });
      expect(textOf(sampled)).toContain('sampled by the client');
      expect(seen.sampling).toBe(before.sampling + 1);
      const elicited = await client.callTool({ name: `${prefix}trigger-elicitation-request`, arguments: {} });
      expect(seen.elicitation).toBe(before.elicitation + 1);
      expect(textOf(elicited)).toMatch(/User provided the requested information/);
      const roots = await client.callTool({ name: `${prefix}get-roots-list`, arguments: {} });
      expect(textOf(roots)).toContain('file:///e2e/workspace');
      expect(seen.roots).toBeGreaterThan(0);
    });

    it('tells the upstream when the client roots change: it asks again and sees the new roots', async () => {
      await client.callTool({ name: `${prefix}get-roots-list`, arguments: {} }); // its own upstream session exists
      const before = seen.roots;
      seen.rootList = [...seen.rootList, { uri: 'file:///e2e/second', name: 'second' }];
      await client.sendRootsListChanged();
      await eventually(() => seen.roots > before, 10_000);
      const listed = await client.callTool({ name: `${prefix}get-roots-list`, arguments: {} });
      expect(textOf(listed)).toContain('file:///e2e/second');
    });

    it('delivers log messages after logging/setLevel', async () => {
      await client.setLoggingLevel('debug');
      await client.callTool({ name: `${prefix}toggle-simulated-logging`, arguments: {} });
      try {
        await eventually(() => seen.logs.some((l) => /-level message/.test(l)), 20_000);
      } finally {
        await client.callTool({ name: `${prefix}toggle-simulated-logging`, arguments: {} });
      }
    });

    it('subscribes to a resource and receives its updated notification', async () => {
      const uri = 'demo://resource/dynamic/text/1';
      await client.subscribeResource({ uri });
      await client.callTool({ name: `${prefix}toggle-subscriber-updates`, arguments: {} });
      try {
        await eventually(() => seen.updated.includes(uri), 20_000);
      } finally {
        await client.callTool({ name: `${prefix}toggle-subscriber-updates`, arguments: {} });
        await client.unsubscribeResource({ uri });
      }
    });
  });

  it('the legacy /sse + /messages transport carries the same features: sampling, progress, prompts, resources', async () => {
    let sampledLegacy = 0;
    const client = new Client({ name: 'mcp-features-legacy', version: '1.0.0' }, { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async () => {
      sampledLegacy++;
      return { model: 'e2e-model', role: 'assistant', content: { type: 'text', text: 'sampled over legacy SSE' } };
    });
    await client.connect(new SSEClientTransport(new URL(`${suite!.edgeUrls[0]}/sse`), { requestInit: { headers: keyHeaders(suite!.masterKey) } }));
    clients.push(client);
    expect(await toolNames(client)).toContain('ev-trigger-sampling-request');
    const sampled = await client.callTool({ name: 'ev-trigger-sampling-request', arguments: { prompt: 'legacy', maxTokens: 10 } });
    expect(textOf(sampled)).toContain('sampled over legacy SSE');
    expect(sampledLegacy).toBe(1);
    const progress: number[] = [];
    await client.callTool({ name: 'ev-trigger-long-running-operation', arguments: { duration: 0.5, steps: 3 } }, undefined, { onprogress: (p) => void progress.push(p.progress) });
    // all three are sent; the v1 SDK client drops a progress notification that arrives in the same read as the
    // result (its progress handler runs a microtask after the result has removed it), so the last may be missing
    expect(progress.slice(0, 2)).toEqual([1, 2]);
    const prompt = await client.getPrompt({ name: 'ev-args-prompt', arguments: { city: 'Porto' } });
    expect(JSON.stringify(prompt.messages)).toContain('Porto');
    const read = await client.readResource({ uri: 'demo://resource/dynamic/text/3' });
    expect(read.contents[0]).toMatchObject({ uri: 'demo://resource/dynamic/text/3' });
  });

  it('resumes the GET stream with Last-Event-ID: events sent while it was closed are replayed', async () => {
    const base = suite!.edgeUrls[0]!;
    const { sessionId } = await rawInitialize(`${base}/mcp`, suite!.masterKey);
    const headers = { ...keyHeaders(suite!.masterKey), accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
    /** Reads SSE events from a GET stream until `until` holds; returns them with their ids. */
    const readEvents = async (extra: Record<string, string>, until: (events: { id?: string; data: string }[]) => boolean) => {
      const controller = new AbortController();
      const response = await fetch(`${base}/mcp`, { headers: { ...headers, ...extra }, signal: controller.signal });
      expect(response.status).toBe(200);
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      const events: { id?: string; data: string }[] = [];
      let buffer = '';
      return {
        events,
        done: (async () => {
          while (!until(events)) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            let end: number;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const id = /^id: (.*)$/m.exec(block)?.[1];
              const data = /^data: (.*)$/m.exec(block)?.[1];
              if (data) events.push({ ...(id ? { id } : {}), data });
            }
          }
          controller.abort();
        })(),
      };
    };
    const first = await readEvents({}, (events) => events.length >= 1);
    await api(base, suite!.masterKey, '/v1/mcp/server', { server_name: 'resume_a', url: fixture.url, transport: 'http' });
    await first.done;
    const lastId = first.events.at(-1)!.id!;
    expect(lastId).toMatch(/^[0-9a-f]+-\d+$/); // {edge replica}-{n}
    // stream closed: the next change is kept for it
    await api(base, suite!.masterKey, '/v1/mcp/server', { server_name: 'resume_b', url: fixture.url, transport: 'http' });
    await eventually(async () => {
      const { sessionId: probe } = await rawInitialize(`${base}/mcp`, suite!.masterKey);
      const reply = await rawPost(`${base}/mcp`, request('tools/list'), { key: suite!.masterKey, sessionId: probe, protocolVersion: '2025-11-25' });
      return (reply.message?.result?.tools ?? []).some((t: { name: string }) => t.name === 'resume_b-test_simple_text');
    }, 20_000);
    const resumed = await readEvents({ 'last-event-id': lastId }, (events) => events.some((e) => JSON.parse(e.data).method === 'notifications/tools/list_changed'));
    await resumed.done;
    const n = (id: string) => Number(id.split('-')[1]);
    expect(n(resumed.events[0]!.id!)).toBeGreaterThan(n(lastId));
  });

  it('gives a client sending its own upstream credentials an upstream session of its own, initialized with them', async () => {
    const connectAs = async (auth: string) => {
      const client = new Client({ name: 'mcp-features-creds', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${suite!.edgeUrls[0]}/mcp/count`), {
          requestInit: { headers: { ...keyHeaders(suite!.masterKey), 'x-mcp-count-authorization': auth } },
        }),
      );
      clients.push(client);
      return client;
    };
    const plain = await connectPlain(`${suite!.edgeUrls[0]}/mcp/count`, suite!.masterKey);
    clients.push(plain);
    await plain.callTool({ name: 'echo', arguments: { text: 'warm' } }); // the pooled session exists
    const before = counting.stats().initialize;
    const alice = await connectAs('Bearer alice-token');
    const bob = await connectAs('Bearer bob-token');
    expect(JSON.parse(textOf(await alice.callTool({ name: 'whoami', arguments: {} }))).authorization).toBe('Bearer alice-token');
    expect(JSON.parse(textOf(await bob.callTool({ name: 'whoami', arguments: {} }))).authorization).toBe('Bearer bob-token');
    await alice.callTool({ name: 'echo', arguments: { text: 'again' } });
    await plain.callTool({ name: 'echo', arguments: { text: 'still pooled' } });
    expect(counting.stats().initialize - before).toBe(2); // one each, once; none for the plain client
  });

  it('sends notifications/tools/list_changed after an admin change', async () => {
    const seen = newSeen();
    const client = await connectFull(`${suite!.edgeUrls[0]}/mcp`, suite!.masterKey, seen);
    clients.push(client);
    await toolNames(client); // the GET stream is open once the session is in use
    await api(suite!.edgeUrls[0]!, suite!.masterKey, '/v1/mcp/server', { server_name: 'added', url: fixture.url, transport: 'http' });
    await eventually(() => seen.toolsChanged > 0, 20_000);
    await eventually(async () => (await toolNames(client)).includes('added-test_simple_text'), 20_000);
  });

  it('a key that may not use a server cannot read its resources or get its prompts', async () => {
    const { key } = await generateKey(suite!, { object_permission: { mcp_servers: ['conf'] } });
    const client = await connectPlain(`${suite!.edgeUrls[0]}/mcp`, key);
    clients.push(client);
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name)).toContain('conf-test_simple_prompt');
    expect(prompts.some((p) => p.name.startsWith('ev-'))).toBe(false);
    await expect(client.getPrompt({ name: 'ev-args-prompt', arguments: { city: 'x' } })).rejects.toThrow(/Unknown prompt/);
    const { resources } = await client.listResources();
    expect(resources.some((r) => r.uri.startsWith('demo://'))).toBe(false);
    await expect(client.readResource({ uri: 'demo://resource/dynamic/text/1' })).rejects.toThrow(/Resource not found/);
    const denied = await rawPost(`${suite!.edgeUrls[0]}/mcp/ev`, request('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } }), { key });
    expect(denied.status).toBe(403);
  });

  it('a key allowed only ev gets errors for the fixture prompts and resources, and the fixture receives nothing', async () => {
    const { key } = await generateKey(suite!, { object_permission: { mcp_servers: ['ev'] } });
    const client = await connectPlain(`${suite!.edgeUrls[0]}/mcp`, key);
    clients.push(client);
    const before = { prompts: fixture.received('prompts/get'), reads: fixture.received('resources/read'), completions: fixture.received('completion/complete') };
    await expect(client.getPrompt({ name: 'conf-test_simple_prompt' })).rejects.toThrow(/Unknown prompt/);
    await expect(client.readResource({ uri: 'test://static-text' })).rejects.toThrow(/Resource not found/);
    await expect(client.complete({ ref: { type: 'ref/prompt', name: 'conf-test_prompt_with_arguments' }, argument: { name: 'arg1', value: 'a' } })).rejects.toThrow(/Unknown completion reference/);
    // by now other servers (added by the tests above) serve the same fixture: on /mcp the master key's read of a
    // URI several servers claim is an error pointing to /mcp/{server}, and nothing is forwarded
    const aggregate = await connectPlain(`${suite!.edgeUrls[0]}/mcp`, suite!.masterKey);
    clients.push(aggregate);
    await expect(aggregate.readResource({ uri: 'test://static-text' })).rejects.toThrow(/served by .* and .*: use \/mcp\/(added|conf|resume_a|resume_b)/);
    // on /mcp/conf it is that server's: the read reaches the fixture, so the counter counts
    const master = await connectPlain(`${suite!.edgeUrls[0]}/mcp/conf`, suite!.masterKey);
    clients.push(master);
    await master.readResource({ uri: 'test://static-text' });
    expect(fixture.received('prompts/get')).toBe(before.prompts);
    expect(fixture.received('completion/complete')).toBe(before.completions);
    expect(fixture.received('resources/read')).toBe(before.reads + 1);
  });
});
