import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamableHttpTransport } from './http-transport.js';
import { ModernClient } from './modern-client.js';

interface Seen {
  method: string;
  headers: http.IncomingHttpHeaders;
  params: Record<string, unknown>;
}

/** A minimal 2026-07-28 upstream: discover, a tool that asks once, and a listen stream that tells of one change. */
async function startUpstream(): Promise<{ url: URL; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const message = JSON.parse(body) as { id: string; method: string; params: Record<string, unknown> };
      seen.push({ method: message.method, headers: req.headers, params: message.params });
      const reply = (result: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result }));
      if (message.method === 'server/discover') return reply({ supportedVersions: ['2026-07-28'], capabilities: { tools: { listChanged: true } }, serverInfo: { name: 'tiny', version: '1' } });
      if (message.method === 'tools/call' && !message.params.inputResponses) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'thinking' } })}\n\n`);
        res.end(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { resultType: 'input_required', inputRequests: { q: { method: 'roots/list' } }, requestState: 'st-1' } })}\n\n`);
        return;
      }
      if (message.method === 'tools/call') return reply({ resultType: 'complete', content: [{ type: 'text', text: `${JSON.stringify(message.params.inputResponses)} ${String(message.params.requestState)}` }] });
      if (message.method === 'subscriptions/listen') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { notifications: message.params.notifications } })}\n\n`);
        res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' })}\n\n`);
        return; // held open
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'Method not found' } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
  return { url, seen, close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) };
}

describe('ModernClient', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>> | undefined;
  let client: ModernClient | undefined;
  afterEach(async () => {
    await client?.close();
    await upstream?.close();
  });

  it('discovers, sends the envelope and the mirroring headers, and answers input_required for a caller that cannot', async () => {
    upstream = await startUpstream();
    client = new ModernClient(new StreamableHttpTransport(upstream.url), { name: 'gw', version: '1' }, {});
    expect(await client.discover(5_000)).toMatchObject({ supportedVersions: ['2026-07-28'], serverInfo: { name: 'tiny' } });
    const caller = client.withCapabilities({ roots: {} });
    const notes: string[] = [];
    const asked: unknown[] = [];
    const result = await caller.request({ method: 'tools/call', params: { name: 'ask', arguments: {} } }, undefined, {
      timeout: 5_000,
      onNotification: (n) => notes.push(n.method),
      fulfil: async (requests) => {
        asked.push(requests);
        return { q: { roots: [{ uri: 'file:///r' }] } };
      },
    });
    expect(asked).toEqual([{ q: { method: 'roots/list' } }]);
    expect(notes).toEqual(['notifications/message']);
    expect(result.content).toEqual([{ type: 'text', text: '{"q":{"roots":[{"uri":"file:///r"}]}} st-1' }]);
    const call = upstream.seen.find((s) => s.method === 'tools/call')!;
    expect(call.headers).toMatchObject({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'ask' });
    expect(call.params._meta).toMatchObject({ 'io.modelcontextprotocol/clientCapabilities': { roots: {} }, 'io.modelcontextprotocol/protocolVersion': '2026-07-28' });
  });

  it('passes input_required through when nobody answers for the caller', async () => {
    upstream = await startUpstream();
    client = new ModernClient(new StreamableHttpTransport(upstream.url), { name: 'gw', version: '1' }, {});
    const result = await client.request({ method: 'tools/call', params: { name: 'ask' } }, undefined, { timeout: 5_000 });
    expect(result).toMatchObject({ resultType: 'input_required', requestState: 'st-1' });
  });

  it('takes a 2025-era answer to server/discover for "not modern"', async () => {
    upstream = await startUpstream();
    const server = http.createServer((_req, res) => res.writeHead(400, { 'content-type': 'text/plain' }).end('Bad Request: Server not initialized'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new ModernClient(new StreamableHttpTransport(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`)), { name: 'gw', version: '1' }, {});
    expect(await client.discover(5_000)).toBeUndefined();
    await new Promise((resolve) => server.close(resolve));
  });

  it("keeps a 2025-era client's log level and subscriptions the 2026 way", async () => {
    upstream = await startUpstream();
    client = new ModernClient(new StreamableHttpTransport(upstream.url), { name: 'gw', version: '1' }, {});
    const session = client.withCapabilities({});
    const heard: string[] = [];
    expect(await session.emulate('logging/setLevel', { level: 'debug' }, () => undefined)).toEqual({});
    await session.request({ method: 'tools/call', params: { name: 'ask' } }, undefined, { timeout: 5_000 });
    expect(upstream.seen.at(-1)!.params._meta).toMatchObject({ 'io.modelcontextprotocol/logLevel': 'debug' });
    await session.emulate('resources/subscribe', { uri: 'file:///a' }, (n) => heard.push(n.method));
    const listen = await new Promise<Seen>((resolve) => {
      const poll = setInterval(() => {
        const seen = upstream!.seen.find((s) => s.method === 'subscriptions/listen');
        if (seen) resolve(seen), clearInterval(poll);
      }, 10);
    });
    expect(listen.params.notifications).toEqual({ resourceSubscriptions: ['file:///a'] });
    await session.close(); // stops its listen stream, leaves the shared connection open
    expect(await client.request({ method: 'tools/call', params: { name: 'ask' } }, undefined, { timeout: 5_000 })).toMatchObject({ resultType: 'input_required' });
  });

  it('holds a listen stream open and hands over what it delivers', async () => {
    upstream = await startUpstream();
    client = new ModernClient(new StreamableHttpTransport(upstream.url), { name: 'gw', version: '1' }, {});
    const heard = await new Promise<string>((resolve) => {
      const stop = client!.listen({ toolsListChanged: true }, (n) => {
        stop();
        resolve(n.method);
      });
    });
    expect(heard).toBe('notifications/tools/list_changed');
    expect(upstream.seen.find((s) => s.method === 'subscriptions/listen')?.params.notifications).toEqual({ toolsListChanged: true });
  });
});
