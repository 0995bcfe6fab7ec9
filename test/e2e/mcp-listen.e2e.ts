import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2, type McpSubscription } from '@modelcontextprotocol/client';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, eventually, generateKey, keyHeaders, MODES, printLogsOnFailure, startEverything, startSuite, type HttpEverything, type Suite } from './support/index.js';

// Issue 9: subscriptions/listen (MCP 2026-07-28) through the gateway, driven by the official v2 client pinned to
// 2026-07-28: the acknowledgement, tools list changes from a server added through the admin API (heard on the
// other edge when there are two), nothing announced of servers the key may not use, resource updates from a real
// upstream reaching listeners on every edge, and the listen result when an edge stops.

const MODERN = '2026-07-28';
const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

async function connectModern(url: string, key: string): Promise<ClientV2> {
  const client = new ClientV2({ name: 'mcp-listen-e2e', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } } });
  await client.connect(new TransportV2(new URL(url), { requestInit: { headers: keyHeaders(key) } }));
  return client;
}

interface Notes {
  url: string;
  /** The upstream sessions subscribed to a URI now. */
  subscribers(uri: string): number;
  /** Adds a tool and tells every session its tool list changed. */
  grow(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * An upstream whose resources change when asked: server-everything sends resource updates only to the session
 * that turned them on, and the gateway's subscription is a session of its own. Streamable HTTP (SDK 1.x, one
 * session per client), resources `note://a` and `note://b` that can be subscribed, and the tool `touch {uri}`,
 * which tells every session subscribed to that URI that it was updated.
 */
async function startNotes(): Promise<Notes> {
  const subscribed = new Map<string, Set<Server>>();
  const sessions = new Map<string, { server: Server; transport: StreamableHTTPServerTransport }>();
  const tools = [{ name: 'touch', description: 'Marks a note as changed', inputSchema: { type: 'object' as const, properties: { uri: { type: 'string' } }, required: ['uri'] } }];
  const forget = (server: Server) => subscribed.forEach((servers) => servers.delete(server));

  function createServer(): Server {
    const server = new Server({ name: 'notes', version: '1.0.0' }, { capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true } } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }));
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      const uri = String(request.params.arguments?.uri);
      for (const target of subscribed.get(uri) ?? []) await target.sendResourceUpdated({ uri }).catch(() => undefined);
      return { content: [{ type: 'text', text: `touched ${uri}` }] };
    });
    server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: ['a', 'b'].map((n) => ({ uri: `note://${n}`, name: `note ${n}` })) }));
    server.setRequestHandler(ReadResourceRequestSchema, async (request) => ({ contents: [{ uri: request.params.uri, text: `the note ${request.params.uri}` }] }));
    server.setRequestHandler(SubscribeRequestSchema, async (request) => {
      let servers = subscribed.get(request.params.uri);
      if (!servers) subscribed.set(request.params.uri, (servers = new Set()));
      servers.add(server);
      return {};
    });
    server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
      subscribed.get(request.params.uri)?.delete(server);
      return {};
    });
    return server;
  }

  const httpServer = http.createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    const id = req.headers['mcp-session-id'];
    const existing = typeof id === 'string' ? sessions.get(id) : undefined;
    if (existing) return existing.transport.handleRequest(req, res, body);
    if (req.method !== 'POST' || id) {
      res.writeHead(404).end();
      return;
    }
    const server = createServer();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (sessionId) => void sessions.set(sessionId, { server, transport }),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
      forget(server);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const { port } = httpServer.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    subscribers: (uri) => subscribed.get(uri)?.size ?? 0,
    async grow() {
      tools.push({ ...tools[0]!, name: `grown-${tools.length}` });
      for (const { server } of sessions.values()) await server.sendToolListChanged().catch(() => undefined);
    },
    async stop() {
      for (const { transport } of sessions.values()) await transport.close().catch(() => undefined);
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
    },
  };
}

describe.each(MODES)('subscriptions/listen (%s)', (mode) => {
  let suite: Suite | undefined;
  let everything: HttpEverything;
  let notes: Notes;
  const clients: ClientV2[] = [];
  printLogsOnFailure(() => suite);

  /** A v2 client pinned to 2026-07-28 on an edge, closed after the file. */
  async function modernClient(edge: string, path = '/mcp', key = suite!.masterKey): Promise<ClientV2> {
    const client = await connectModern(`${edge}${path}`, key);
    clients.push(client);
    return client;
  }

  /** Counts the notifications of one method a client receives, with their params. */
  function collect(client: ClientV2, method: 'notifications/tools/list_changed' | 'notifications/resources/updated'): Record<string, any>[] {
    const seen: Record<string, any>[] = [];
    client.setNotificationHandler(method, (notification) => void seen.push((notification as { params?: Record<string, unknown> }).params ?? {}));
    return seen;
  }

  beforeAll(async () => {
    everything = await startEverything('streamableHttp');
    notes = await startNotes();
    suite = await startSuite({
      mode,
      ...(mode === 'distributed' ? { edges: 2 } : {}),
      config: { mcp_servers: { ev: { url: everything.url, transport: 'http' }, notes: { url: notes.url, transport: 'http' } } },
    });
    for (const edge of suite.edgeUrls) {
      const client = await modernClient(edge);
      await eventually(async () => {
        const names = (await client.listTools({}, { cacheMode: 'refresh' })).tools.map((t) => t.name);
        return names.includes('ev-echo') && names.includes('notes-touch');
      }, 30_000);
    }
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await suite?.stop();
    await Promise.allSettled([everything?.stop(), notes?.stop()]);
  });

  /** The edge listeners use: the last one (in distributed mode not the one the admin API is called on). */
  const listenEdge = () => suite!.edgeUrls.at(-1)!;

  it('acknowledges what it honours: the lists of the endpoint and the URIs the key can read', async () => {
    const client = await modernClient(listenEdge());
    const subscription = await client.listen({ toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true, resourceSubscriptions: ['note://a', 'unknown://x'] });
    expect(subscription.honoredFilter).toEqual({ toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true, resourceSubscriptions: ['note://a'] });
    await subscription.close();
    expect(await subscription.closed).toBe('local');

    // notes serves no prompts: its own endpoint does not promise their changes
    const own = await modernClient(listenEdge(), '/mcp/notes');
    const narrow = await own.listen({ toolsListChanged: true, promptsListChanged: true, resourceSubscriptions: ['note://b'] });
    expect(narrow.honoredFilter).toEqual({ toolsListChanged: true, resourceSubscriptions: ['note://b'] });
    await narrow.close();
    await eventually(() => notes.subscribers('note://a') + notes.subscribers('note://b') === 0, 10_000);
  });

  it('tells a listener that a server added through the admin API changed the tools list (on the other edge when there are two)', async () => {
    const client = await modernClient(listenEdge());
    const changes = collect(client, 'notifications/tools/list_changed');
    const subscription = await client.listen({ toolsListChanged: true });
    const created = await api(suite!.edgeUrls[0]!, suite!.masterKey, '/v1/mcp/server', { server_name: 'added', url: everything.url, transport: 'http' });
    await eventually(() => changes.length > 0, 15_000);
    expect(changes[0]![`_meta`]?.[SUBSCRIPTION_ID]).toMatch(/^listen:/);
    const { tools } = await client.listTools({}, { cacheMode: 'refresh' });
    expect(tools.map((t) => t.name)).toContain('added-echo');

    const before = changes.length;
    const deleted = await fetch(`${suite!.edgeUrls[0]}/v1/mcp/server/${created.server_id}`, { method: 'DELETE', headers: keyHeaders(suite!.masterKey) });
    expect(deleted.status).toBeLessThan(300);
    await eventually(() => changes.length > before, 15_000);
    await subscription.close();
  });

  it('announces nothing of servers the key may not use', async () => {
    const { key } = await generateKey(suite!, { object_permission: { mcp_servers: ['notes'] } });
    const restricted = await modernClient(listenEdge(), '/mcp', key);
    const restrictedChanges = collect(restricted, 'notifications/tools/list_changed');
    await restricted.listen({ toolsListChanged: true });
    const master = await modernClient(listenEdge());
    const masterChanges = collect(master, 'notifications/tools/list_changed');
    await master.listen({ toolsListChanged: true });

    await api(suite!.edgeUrls[0]!, suite!.masterKey, '/v1/mcp/server', { server_name: 'hidden', url: everything.url, transport: 'http' });
    await eventually(() => masterChanges.length > 0, 15_000);
    // then a change the key does see (notes' own tool list): the only one it hears about
    await notes.grow();
    await eventually(() => restrictedChanges.length > 0, 15_000);
    expect(restrictedChanges).toHaveLength(1);
    const { tools } = await restricted.listTools({}, { cacheMode: 'refresh' });
    expect(tools.map((t) => t.name).sort()).toEqual(['notes-grown-1', 'notes-touch']);
  });

  it('relays the updates of a subscribed resource to listeners on every edge, and lets go upstream when they close', async () => {
    const listeners: { updates: Record<string, any>[]; subscription: McpSubscription }[] = [];
    for (const edge of suite!.edgeUrls) {
      const client = await modernClient(edge);
      const updates = collect(client, 'notifications/resources/updated');
      const subscription = await client.listen({ resourceSubscriptions: ['note://a'] });
      expect(subscription.honoredFilter).toEqual({ resourceSubscriptions: ['note://a'] });
      listeners.push({ updates, subscription });
    }
    // one upstream subscription per edge replica
    expect(notes.subscribers('note://a')).toBe(suite!.edgeUrls.length);
    const caller = await modernClient(suite!.edgeUrls[0]!);
    await caller.callTool({ name: 'notes-touch', arguments: { uri: 'note://b' } }); // nobody listens to b
    await caller.callTool({ name: 'notes-touch', arguments: { uri: 'note://a' } });
    await eventually(() => listeners.every((l) => l.updates.length > 0), 15_000);
    for (const { updates } of listeners) {
      expect(updates.map((u) => u.uri)).toEqual(['note://a']);
      expect(updates[0]![`_meta`]?.[SUBSCRIPTION_ID]).toMatch(/^listen:/);
    }
    await Promise.all(listeners.map((l) => l.subscription.close()));
    await eventually(() => notes.subscribers('note://a') === 0, 15_000);
  });

  it.runIf(mode === 'distributed')('ends a listen with its result when its edge stops', async () => {
    const client = await modernClient(suite!.edgeUrls[1]!);
    const subscription = await client.listen({ toolsListChanged: true, resourceSubscriptions: ['note://a'] });
    await suite!.stopService('edge', 1);
    expect(await subscription.closed).toBe('graceful');
    await eventually(() => notes.subscribers('note://a') === 0, 15_000); // its upstream watch went with it
  });
});
