import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MODES,
  awayFromMinuteEdge,
  callApi,
  connectClient,
  eventually,
  generateKey,
  keyHeaders,
  printLogsOnFailure,
  rawInitialize,
  rawPost,
  request,
  startCountingServer,
  startSuite,
  textOf,
  toolNames,
  type CountingServer,
  type Suite,
} from './support/index.js';

// Issue 3, done-means 4: a key over its rpm_limit gets HTTP 429 with Retry-After and the JSON-RPC error -32029
// (retry information in data); under its limit it gets none. max_parallel_requests and /mcp-rest too.
// rpm_limit is counted per key in fixed one-minute windows, so each burst starts well inside a minute.
// Issue 7: every authenticated HTTP request to /mcp, /sse, /messages, /mcp-rest and /v1 counts once, initialize
// and notification-only POSTs included.

const RATE_LIMITED = -32029;

describe.each(MODES)('%s', (mode) => {
  let suite: Suite | undefined;
  let fixture: CountingServer;
  const clients: Client[] = [];

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    fixture = await startCountingServer();
    suite = await startSuite({ mode, config: { mcp_servers: { counting: { url: fixture.url, transport: 'http' } } } });
    const master = await client(suite.masterKey);
    await eventually(async () => (await toolNames(master)).includes('counting-echo'), 20_000);
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await suite?.stop();
    await fixture?.stop();
  });

  async function client(key: string): Promise<Client> {
    const c = await connectClient(`${suite!.edgeUrls[0]}/mcp`, key);
    clients.push(c);
    return c;
  }

  const mcpUrl = () => `${suite!.edgeUrls[0]}/mcp`;

  function callEcho(key: string, sessionId: string, text: string) {
    return rawPost(mcpUrl(), request('tools/call', { name: 'counting-echo', arguments: { text } }), { key, sessionId, protocolVersion: '2025-11-25' });
  }

  describe('rpm_limit', () => {
    it('with rpm_limit 5, initialize, its notification and 3 calls pass, the next call gets 429 with Retry-After and JSON-RPC -32029; the SDK client throws', async () => {
      const { key } = await generateKey(suite!, { rpm_limit: 5, object_permission: { mcp_servers: ['counting'] } });
      await awayFromMinuteEdge();
      const { sessionId } = await rawInitialize(mcpUrl(), key); // initialize and notifications/initialized: 2 requests
      const before = await fixture.stats();
      for (let i = 1; i <= 3; i++) {
        const reply = await callEcho(key, sessionId, `call ${i}`);
        expect(reply.status, reply.text).toBe(200);
        expect(reply.message?.result?.content?.[0]?.text).toBe(`call ${i}`);
      }
      const over = await callEcho(key, sessionId, 'call 4');
      expect(over.status, over.text).toBe(429);
      const retryAfter = Number(over.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(over.message).toMatchObject({ jsonrpc: '2.0', error: { code: RATE_LIMITED } });
      expect(over.message.id).toBe(JSON.parse(over.text).id);
      expect(over.message.error.data.retry_after_seconds).toBe(retryAfter);
      // The refused call never reached the upstream.
      expect((await fixture.stats()).toolsCall - before.toolsCall).toBe(3);

      // The official client sees the same refusal as a thrown error (its initialize counts too: it is refused).
      const error = await client(key).then(
        () => undefined,
        (e: Error) => e,
      );
      // The SDK's StreamableHTTPError: code is the HTTP status, the message carries the JSON-RPC error body.
      expect(error).toBeInstanceOf(Error);
      expect((error as Error & { code?: number }).code).toBe(429);
      expect(error!.message).toContain(String(RATE_LIMITED));
      expect(error!.message).toContain('retry_after_seconds');
      expect((await fixture.stats()).toolsCall - before.toolsCall).toBe(3);
    });

    it('every authenticated request to /mcp, /sse, /messages, /mcp-rest and /v1 counts once, initialize and notifications included', async () => {
      const { key } = await generateKey(suite!, { rpm_limit: 6, object_permission: { mcp_servers: ['counting'] } });
      await awayFromMinuteEdge();
      const base = suite!.edgeUrls[0]!;
      const initialize = () =>
        rawPost(mcpUrl(), request('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'count-e2e', version: '1' } }), { key });

      const first = await initialize(); // 1
      expect(first.status, first.text).toBe(200);
      const sessionId = first.headers.get('mcp-session-id')!;
      const initialized = await rawPost(mcpUrl(), { jsonrpc: '2.0', method: 'notifications/initialized' }, { key, sessionId, protocolVersion: '2025-11-25' }); // 2
      expect(initialized.status, initialized.text).toBe(202);
      const restList = await callApi(base, key, '/mcp-rest/tools/list'); // 3
      expect(restList.status, JSON.stringify(restList.body)).toBe(200);
      const models = await callApi(base, key, '/v1/models'); // 4
      expect(models.status, JSON.stringify(models.body)).toBe(200);
      // The legacy transport: the stream (5) and one message posted to it (6).
      const stream = new AbortController();
      const sse = await fetch(`${base}/sse`, { headers: { ...keyHeaders(key), accept: 'text/event-stream' }, signal: stream.signal });
      expect(sse.status).toBe(200);
      const reader = sse.body!.getReader();
      let head = '';
      while (!head.includes('sessionId=')) head += new TextDecoder().decode((await reader.read()).value);
      const endpoint = /data: (\/messages\?sessionId=[^\s]+)/.exec(head)![1]!;
      const posted = await fetch(`${base}${endpoint}`, {
        method: 'POST',
        headers: { ...keyHeaders(key), 'content-type': 'application/json' },
        body: JSON.stringify(request('ping')),
      });
      expect(posted.status).toBe(202);
      stream.abort();

      // The 7th request of the minute is refused, whichever endpoint and whatever it is, initialize first.
      const over = await initialize();
      expect(over.status, over.text).toBe(429);
      expect(over.message).toMatchObject({ jsonrpc: '2.0', error: { code: RATE_LIMITED, data: { limit_name: 'rpm_limit', level: 'key' } } });
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const notification = await rawPost(mcpUrl(), { jsonrpc: '2.0', method: 'notifications/initialized' }, { key, sessionId, protocolVersion: '2025-11-25' });
      expect(notification.status, notification.text).toBe(429);
      expect((await callApi(base, key, '/mcp-rest/tools/list')).status).toBe(429);
      const overModels = await callApi(base, key, '/v1/models');
      expect(overModels.status).toBe(429);
      expect(overModels.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
      const overSse = await fetch(`${base}/sse`, { headers: { ...keyHeaders(key), accept: 'text/event-stream' } });
      expect(overSse.status).toBe(429);
      expect(await overSse.json()).toMatchObject({ error: { code: RATE_LIMITED } });
    });

    it('a key with rpm_limit 100 making 20 calls gets no refusal', async () => {
      const { key } = await generateKey(suite!, { rpm_limit: 100, object_permission: { mcp_servers: ['counting'] } });
      await awayFromMinuteEdge();
      const c = await client(key);
      const before = await fixture.stats();
      for (let i = 0; i < 20; i++) {
        const result = await c.callTool({ name: 'counting-echo', arguments: { text: `ok ${i}` } });
        expect(result.isError ?? false).toBe(false);
        expect(textOf(result)).toBe(`ok ${i}`);
      }
      expect((await fixture.stats()).toolsCall - before.toolsCall).toBe(20);
    });

    it('/mcp-rest/tools/call over the limit answers HTTP 429 with Retry-After', async () => {
      const { key } = await generateKey(suite!, { rpm_limit: 2, object_permission: { mcp_servers: ['counting'] } });
      await awayFromMinuteEdge();
      const base = suite!.edgeUrls[0]!;
      for (let i = 0; i < 2; i++) {
        const ok = await callApi(base, key, '/mcp-rest/tools/call', { name: 'counting-echo', arguments: { text: `rest ${i}` } });
        expect(ok.status, JSON.stringify(ok.body)).toBe(200);
        expect(textOf(ok.body)).toBe(`rest ${i}`);
      }
      const over = await callApi(base, key, '/mcp-rest/tools/call', { name: 'counting-echo', arguments: { text: 'rest over' } });
      expect(over.status, JSON.stringify(over.body)).toBe(429);
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(over.body.error).toMatchObject({ type: 'rate_limited', details: { limit_name: 'rpm_limit', level: 'key' } });
    });
  });

  describe('max_parallel_requests', () => {
    it('with a limit of 1, one of two concurrent slow calls is refused; afterwards calls pass again', async () => {
      const { key } = await generateKey(suite!, { max_parallel_requests: 1, object_permission: { mcp_servers: ['counting'] } });
      const { sessionId } = await rawInitialize(mcpUrl(), key);
      const slow = () => rawPost(mcpUrl(), request('tools/call', { name: 'counting-slow', arguments: { ms: 800 } }), { key, sessionId, protocolVersion: '2025-11-25' });
      const before = await fixture.stats();
      const first = slow();
      await new Promise((r) => setTimeout(r, 150)); // the first call holds the only slot
      const second = await slow();
      const firstReply = await first;
      expect(firstReply.status, firstReply.text).toBe(200);
      expect(firstReply.message?.result?.content?.[0]?.text).toBe('slept 800 ms');
      expect(second.status, second.text).toBe(429);
      expect(second.message).toMatchObject({ error: { code: RATE_LIMITED, data: { limit_name: 'max_parallel_requests' } } });
      expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await fixture.stats()).toolsCall - before.toolsCall).toBe(1);

      // The slot is released when the call ends.
      const after = await callEcho(key, sessionId, 'after');
      expect(after.status, after.text).toBe(200);
      // Two truly simultaneous calls: exactly one passes.
      const both = await Promise.all([slow(), slow()]);
      expect(both.map((r) => r.status).sort()).toEqual([200, 429]);
    });

    it('the master key has no limits', async () => {
      const { sessionId } = await rawInitialize(mcpUrl(), suite!.masterKey);
      const replies = await Promise.all(
        Array.from({ length: 3 }, () =>
          rawPost(mcpUrl(), request('tools/call', { name: 'counting-slow', arguments: { ms: 200 } }), {
            headers: keyHeaders(suite!.masterKey),
            sessionId,
            protocolVersion: '2025-11-25',
          }),
        ),
      );
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    });
  });
});
