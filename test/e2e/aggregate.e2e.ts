import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MODES,
  PROTOCOL_VERSIONS,
  connectClient,
  eventually,
  keyHeaders,
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

// Issue 2, done-means 2: the gateway in front of server-everything over Streamable HTTP, SSE and stdio, driven by
// the official MCP client; in both modes (issue 6): the five services as separate processes, and the one-process
// default.

describe.each(MODES)('%s', (mode) => {
  let suite: Suite | undefined;
  let httpUpstream: HttpEverything;
  let sseUpstream: HttpEverything;
  const clients: Client[] = [];

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    httpUpstream = await startEverything('streamableHttp');
    sseUpstream = await startEverything('sse');
    const stdio = await startEverything('stdio');
    suite = await startSuite({
      mode,
      config: {
        mcp_servers: {
          ev_http: { url: httpUpstream.url, transport: 'http' },
          ev_sse: { url: sseUpstream.url, transport: 'sse' },
          ev_stdio: { transport: 'stdio', command: stdio.command, args: stdio.args },
        },
      },
    });
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await suite?.stop();
    await Promise.allSettled([httpUpstream?.stop(), sseUpstream?.stop()]);
  });

  async function client(path: string): Promise<Client> {
    const c = await connectClient(`${suite!.edgeUrls[0]}${path}`, suite!.masterKey);
    clients.push(c);
    return c;
  }

  describe('the aggregate endpoint /mcp', () => {
    it('lists every server’s tools with the {server}-{tool} prefix and calls a tool on each', async () => {
      const c = await client('/mcp');
      // Readiness waits until every configured server has been fetched once (SPEC section 7), and the suite
      // started once ready: the first list already holds all three, without polling.
      const names = await toolNames(c);
      expect(names).toEqual(expect.arrayContaining(['ev_http-echo', 'ev_sse-echo', 'ev_stdio-echo']));
      expect(names).toEqual(expect.arrayContaining(['ev_http-get-sum', 'ev_sse-get-sum', 'ev_stdio-get-sum']));
      expect(names.every((n) => /^ev_(http|sse|stdio)-/.test(n))).toBe(true);

      for (const server of ['ev_http', 'ev_sse', 'ev_stdio']) {
        const result = await c.callTool({ name: `${server}-echo`, arguments: { message: `hello ${server}` } });
        expect(result.isError ?? false, JSON.stringify(result)).toBe(false);
        expect(textOf(result)).toBe(`Echo: hello ${server}`);
      }
    });
  });

  describe('one server, unprefixed', () => {
    for (const path of ['/mcp/ev_http', '/ev_http/mcp']) {
      it(`${path} lists the server’s own tool names and calls echo`, async () => {
        const c = await client(path);
        const names = await eventually(async () => {
          const listed = await toolNames(c);
          return listed.includes('echo') && listed;
        }, 20_000);
        expect(names.some((n) => n.startsWith('ev_'))).toBe(false);
        const result = await c.callTool({ name: 'echo', arguments: { message: 'direct' } });
        expect(textOf(result)).toBe('Echo: direct');
      });
    }
  });

  describe('HTTP answers of the Streamable HTTP endpoint', () => {
    const mcp = () => `${suite!.edgeUrls[0]}/mcp`;
    const initialize = () => request('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } });

    it('401 with WWW-Authenticate and a JSON body without a key', async () => {
      const reply = await rawPost(mcp(), initialize());
      expect(reply.status).toBe(401);
      expect(reply.headers.get('www-authenticate')).toBeTruthy();
      expect(() => JSON.parse(reply.text)).not.toThrow();
    });

    it('401 with a wrong key, through Authorization too', async () => {
      const reply = await rawPost(mcp(), initialize(), { headers: { authorization: 'Bearer sk-not-the-key' } });
      expect(reply.status).toBe(401);
      expect(reply.headers.get('www-authenticate')).toBeTruthy();
    });

    it('accepts the key in Authorization: Bearer', async () => {
      const reply = await rawPost(mcp(), initialize(), { headers: { authorization: `Bearer ${suite!.masterKey}` } });
      expect(reply.status).toBe(200);
      expect(reply.headers.get('mcp-session-id')).toBeTruthy();
    });

    it('404 for an unknown session', async () => {
      const reply = await rawPost(mcp(), request('tools/list'), { key: suite!.masterKey, sessionId: randomUUID(), protocolVersion: '2025-11-25' });
      expect(reply.status).toBe(404);
    });

    it('400 for a missing session id on a request that is not initialize', async () => {
      const reply = await rawPost(mcp(), request('tools/list'), { key: suite!.masterKey, protocolVersion: '2025-11-25' });
      expect(reply.status).toBe(400);
    });

    it('403 for a disallowed Origin', async () => {
      const reply = await rawPost(mcp(), initialize(), { key: suite!.masterKey, headers: { origin: 'http://evil.example' } });
      expect(reply.status).toBe(403);
    });

    it('413 for a body over the limit', async () => {
      const big = request('tools/call', { name: 'ev_http-echo', arguments: { message: 'x'.repeat(5 * 1024 * 1024) } });
      const { sessionId } = await rawInitialize(mcp(), suite!.masterKey);
      let status: number;
      try {
        status = (await rawPost(mcp(), big, { key: suite!.masterKey, sessionId, protocolVersion: '2025-11-25' })).status;
      } catch (error) {
        // A server may close the connection while the client is still sending; that is not a 413.
        throw new Error(`no HTTP answer to an oversized body: ${(error as Error).message}`);
      }
      expect(status).toBe(413);
    });

    it('HTTP 400 with JSON-RPC -32700 for malformed JSON', async () => {
      const reply = await rawPost(mcp(), '{"jsonrpc": "2.0", "id": 1, "method": ', { key: suite!.masterKey });
      expect(reply.status).toBe(400);
      expect(reply.message?.error?.code).toBe(-32700);
    });

    for (const version of PROTOCOL_VERSIONS) {
      it(`initializes with protocol revision ${version}`, async () => {
        const { sessionId, reply } = await rawInitialize(mcp(), suite!.masterKey, version);
        expect(reply.message?.result?.protocolVersion).toBe(version);
        const tools = await rawPost(mcp(), request('tools/list'), { key: suite!.masterKey, sessionId, protocolVersion: version });
        expect(tools.status).toBe(200);
        expect(Array.isArray(tools.message?.result?.tools)).toBe(true);
      });
    }
  });

  describe('/mcp-rest', () => {
    it('lists the tools and calls one as plain JSON', async () => {
      const base = suite!.edgeUrls[0];
      const listed = await eventually(async () => {
        const response = await fetch(`${base}/mcp-rest/tools/list`, { headers: keyHeaders(suite!.masterKey) });
        expect(response.status).toBe(200);
        const body = (await response.json()) as { tools: { name: string }[] };
        return body.tools.some((t) => t.name === 'ev_http-echo') && body;
      }, 20_000);
      expect(listed.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['ev_sse-echo', 'ev_stdio-echo']));

      const response = await fetch(`${base}/mcp-rest/tools/call`, {
        method: 'POST',
        headers: { ...keyHeaders(suite!.masterKey), 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'ev_http-echo', arguments: { message: 'rest' } }),
      });
      expect(response.status).toBe(200);
      expect(textOf(await response.json())).toBe('Echo: rest');
    });

    it('requires a key', async () => {
      const response = await fetch(`${suite!.edgeUrls[0]}/mcp-rest/tools/list`);
      expect(response.status).toBe(401);
    });
  });

  describe('the legacy HTTP+SSE transport (/sse + /messages)', () => {
    it('serves the same aggregate to the SDK’s SSE client', async () => {
      const headers = keyHeaders(suite!.masterKey);
      const client = new Client({ name: 'switchboard-e2e-sse', version: '1.0.0' });
      await client.connect(
        new SSEClientTransport(new URL(`${suite!.edgeUrls[0]}/sse`), {
          eventSourceInit: { fetch: (url, init) => fetch(url, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }) },
          requestInit: { headers },
        }),
      );
      clients.push(client);
      const names = await toolNames(client);
      expect(names).toEqual(expect.arrayContaining(['ev_http-echo', 'ev_sse-echo', 'ev_stdio-echo']));
      expect(textOf(await client.callTool({ name: 'ev_stdio-echo', arguments: { message: 'legacy' } }))).toBe('Echo: legacy');
    });

    it('401 without a key, 404 for an unknown sessionId', async () => {
      expect((await fetch(`${suite!.edgeUrls[0]}/sse`)).status).toBe(401);
      const res = await fetch(`${suite!.edgeUrls[0]}/messages?sessionId=nope`, {
        method: 'POST',
        headers: { ...keyHeaders(suite!.masterKey), 'content-type': 'application/json' },
        body: JSON.stringify(request('tools/list')),
      });
      expect(res.status).toBe(404);
    });
  });
});
