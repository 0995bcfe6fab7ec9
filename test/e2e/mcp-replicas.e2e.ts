import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, eventually, keyHeaders, printLogsOnFailure, rawInitialize, rawPost, request, startEverything, startSuite, textOf, toolNames, type HttpEverything, type Suite } from './support/index.js';

// Issue 8, done-means 3: sampling, elicitation and progress with two edge and two connector replicas while the
// client's requests alternate between the edges, and again after the connector instance holding the client's own
// upstream session is killed (the next call works on the other one).

let suite: Suite | undefined;
let upstream: HttpEverything;
let client: Client | undefined;
let transport: StreamableHTTPClientTransport;
const hits = [0, 0];
let sampled = 0;
let elicited = 0;

printLogsOnFailure(() => suite);

beforeAll(async () => {
  upstream = await startEverything('streamableHttp');
  suite = await startSuite({ edges: 2, connectors: 2, config: { mcp_servers: { ev: { url: upstream.url, transport: 'http' } } } });
  const bases = suite.edgeUrls.map((u) => new URL(u));
  let turn = 0;
  // every HTTP request of the session (initialize, calls, the client's answers, the GET stream) to the other edge
  const roundRobin: FetchLike = (url, init) => {
    const target = new URL(url);
    const i = turn++ % bases.length;
    hits[i]!++;
    target.host = bases[i]!.host;
    return fetch(target, init);
  };
  client = new Client({ name: 'mcp-replicas-e2e', version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async () => {
    sampled++;
    return { model: 'e2e', role: 'assistant', content: { type: 'text', text: `sample ${sampled}` } };
  });
  client.setRequestHandler(ElicitRequestSchema, async () => {
    elicited++;
    return { action: 'accept', content: { name: 'Ada', color: 'red', email: 'ada@example.com', checked: true } };
  });
  transport = new StreamableHTTPClientTransport(new URL(`${suite.edgeUrls[0]}/mcp`), { requestInit: { headers: keyHeaders(suite.masterKey) }, fetch: roundRobin });
  await client.connect(transport);
  await eventually(async () => (await toolNames(client!)).includes('ev-trigger-sampling-request'), 30_000);
});

afterAll(async () => {
  await client?.close().catch(() => {});
  await suite?.stop();
  await upstream?.stop();
});

async function exercise(round: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const before = sampled;
    const s = await client!.callTool({ name: 'ev-trigger-sampling-request', arguments: { prompt: `${round} ${i}`, maxTokens: 10 } });
    expect(textOf(s)).toContain(`sample ${before + 1}`);
    const e = await client!.callTool({ name: 'ev-trigger-elicitation-request', arguments: {} });
    expect(textOf(e)).toMatch(/User provided the requested information/);
    const progress: number[] = [];
    await client!.callTool({ name: 'ev-trigger-long-running-operation', arguments: { duration: 0.4, steps: 4 } }, undefined, { onprogress: (p) => void progress.push(p.progress) });
    expect(progress.length).toBeGreaterThanOrEqual(3);
  }
}

/** The connector replica whose log says it opened this client session's own upstream session. */
function holderOfClientSession(sessionId: string): number {
  const connectors = suite!.processes.get('connector')!;
  const index = connectors.findIndex((p) => p.output.some((line) => line.includes(`for client session ${sessionId}`)));
  if (index < 0) throw new Error(`no connector opened an upstream session for ${sessionId}`);
  return index;
}

describe('server-to-client requests across two edges and two connectors', () => {
  it('relays sampling, elicitation and progress while requests alternate between the edges', async () => {
    await exercise('alternating');
    expect(sampled).toBe(3);
    expect(elicited).toBe(3);
    expect(hits[0]).toBeGreaterThan(5);
    expect(hits[1]).toBeGreaterThan(5);
  });

  it('keeps working after the connector instance holding the client upstream session is killed', async () => {
    const sessionId = transport.sessionId!;
    const holder = holderOfClientSession(sessionId);
    await suite!.stopService('connector', holder);
    await exercise('after the kill');
    const other = 1 - holder;
    await eventually(() => suite!.processes.get('connector')![other]!.output.some((line) => line.includes(`for client session ${sessionId}`)), 5_000);
  });
});

/** Reads SSE events from GET /mcp until `until` holds, then stops. */
async function readStream(url: string, headers: Record<string, string>, until: (events: { id?: string; data: any }[]) => boolean) {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  expect(response.status).toBe(200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { id?: string; data: any }[] = [];
  let buffer = '';
  const done = (async () => {
    while (!until(events)) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const id = /^id: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data) events.push({ ...(id ? { id } : {}), data: JSON.parse(data) });
      }
    }
    controller.abort();
  })();
  return { events, done };
}

describe('the GET stream across edge replicas', () => {
  it('resumes on the other edge with Last-Event-ID: the first edge hands over what the client missed', async () => {
    const [a, b] = suite!.edgeUrls as [string, string];
    const { sessionId } = await rawInitialize(`${a}/mcp`, suite!.masterKey);
    const headers = { ...keyHeaders(suite!.masterKey), accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
    const first = await readStream(`${a}/mcp`, headers, (events) => events.length >= 1);
    await api(a, suite!.masterKey, '/v1/mcp/server', { server_name: 'handover_a', url: upstream.url, transport: 'http' });
    await first.done;
    const lastId = first.events.at(-1)!.id!;
    const [edgeA] = lastId.split('-');
    // the stream is closed; the next change is sent while the client is away
    await api(a, suite!.masterKey, '/v1/mcp/server', { server_name: 'handover_b', url: upstream.url, transport: 'http' });
    // both edges have the new catalog (and have notified the streams they hold) before the client comes back,
    // so what the resumed stream carries can only be what the first edge hands over
    for (const edge of [a, b]) {
      await eventually(async () => {
        const { sessionId: probe } = await rawInitialize(`${edge}/mcp`, suite!.masterKey);
        const reply = await rawPost(`${edge}/mcp`, request('tools/list'), { key: suite!.masterKey, sessionId: probe, protocolVersion: '2025-11-25' });
        return (reply.message?.result?.tools ?? []).some((t: { name: string }) => t.name === 'handover_b-echo');
      }, 20_000);
    }
    const resumed = await readStream(`${b}/mcp`, { ...headers, 'last-event-id': lastId }, (events) =>
      events.some((e) => e.data.method === 'notifications/tools/list_changed'),
    );
    await resumed.done;
    const [edgeB] = resumed.events[0]!.id!.split('-');
    expect(edgeB).not.toBe(edgeA); // written by the other replica
    expect(resumed.events.map((e) => e.data.method)).toContain('notifications/tools/list_changed');
  });
});
