import { Client } from '@modelcontextprotocol/sdk/client/index.js';
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
    return { roots: [{ uri: 'file:///e2e/workspace', name: 'e2e workspace' }] };
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

const newSeen = (): Seen => ({ sampling: 0, elicitation: 0, roots: 0, logs: [], updated: [], toolsChanged: 0 });

describe.each(MODES)('all of MCP through the gateway (%s)', (mode) => {
  let suite: Suite | undefined;
  let upstream: HttpEverything;
  let fixture: ConformanceServer;
  const clients: Client[] = [];
  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    upstream = await startEverything('streamableHttp');
    fixture = await startConformanceServer();
    suite = await startSuite({ mode, config: { mcp_servers: { ev: { url: upstream.url, transport: 'http' }, conf: { url: fixture.url, transport: 'http' } } } });
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
});
