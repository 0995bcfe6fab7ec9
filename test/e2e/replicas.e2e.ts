import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectClient,
  eventually,
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

// Issue 2, done-means 3: two edge replicas and two connector replicas; one client session's requests
// alternate between the edges, and every call succeeds (sessions live in Redis, no stickiness).

let suite: Suite | undefined;
let upstream: HttpEverything;
let client: Client | undefined;

printLogsOnFailure(() => suite);

beforeAll(async () => {
  upstream = await startEverything('streamableHttp');
  suite = await startSuite({ edges: 2, connectors: 2, config: { mcp_servers: { ev: { url: upstream.url, transport: 'http' } } } });
});

afterAll(async () => {
  await client?.close().catch(() => {});
  await suite?.stop();
  await upstream?.stop();
});

describe('one session across two edges and two connectors', () => {
  it('serves raw JSON-RPC requests of one session alternately on edge A and edge B', async () => {
    const [a, b] = suite!.edgeUrls as [string, string];
    const key = suite!.masterKey;
    const { sessionId } = await rawInitialize(`${a}/mcp`, key);
    await eventually(async () => {
      const reply = await rawPost(`${b}/mcp`, request('tools/list'), { key, sessionId, protocolVersion: '2025-11-25' });
      return reply.status === 200 && (reply.message?.result?.tools ?? []).some((t: { name: string }) => t.name === 'ev-echo');
    }, 20_000);

    const failures: string[] = [];
    for (let i = 0; i < 24; i++) {
      const base = i % 2 === 0 ? a : b;
      const reply = await rawPost(`${base}/mcp`, request('tools/call', { name: 'ev-echo', arguments: { message: `call ${i}` } }), {
        key,
        sessionId,
        protocolVersion: '2025-11-25',
      });
      const text = reply.message?.result?.content?.[0]?.text;
      if (reply.status !== 200 || text !== `Echo: call ${i}`) failures.push(`#${i} via ${base}: ${reply.status} ${reply.text.slice(0, 300)}`);
    }
    expect(failures).toEqual([]);
  });

  it('serves the official SDK client when every request goes to the other edge', async () => {
    const bases = suite!.edgeUrls.map((u) => new URL(u));
    const hits = [0, 0];
    let turn = 0;
    // Round-robin the edge for each HTTP request of the session, initialize included.
    const roundRobin: FetchLike = (url, init) => {
      const target = new URL(url);
      const i = turn++ % bases.length;
      hits[i]!++;
      target.host = bases[i]!.host;
      return fetch(target, init);
    };
    client = await connectClient(`${suite!.edgeUrls[0]}/mcp`, suite!.masterKey, { fetch: roundRobin });
    await eventually(async () => (await toolNames(client!)).includes('ev-echo'), 20_000);
    for (let i = 0; i < 20; i++) {
      const result = await client.callTool({ name: 'ev-echo', arguments: { message: `sdk ${i}` } });
      expect(textOf(result)).toBe(`Echo: sdk ${i}`);
    }
    expect(hits[0]).toBeGreaterThanOrEqual(10);
    expect(hits[1]).toBeGreaterThanOrEqual(10);
  });
});
