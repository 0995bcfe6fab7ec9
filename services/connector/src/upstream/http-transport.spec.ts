import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionExpiredError, StreamableHttpTransport, UpstreamHttpError } from './http-transport.js';
import { withRequestHeaders } from './request-context.js';

interface Seen {
  method: string;
  headers: http.IncomingHttpHeaders;
  body: { id?: string | number; method?: string } | undefined;
}

type Answer = (req: Seen, res: ServerResponse) => void;

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A scripted MCP endpoint: `answer` decides, per request, what to write; every request is recorded. */
async function upstream(answer: Answer, secure?: { cert: Buffer; key: Buffer }) {
  const seen: Seen[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      const entry = { method: req.method!, headers: req.headers, body: text ? JSON.parse(text) : undefined };
      seen.push(entry);
      answer(entry, res);
    });
  };
  const server = secure ? https.createServer(secure, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  const port = (server.address() as AddressInfo).port;
  return { seen, url: new URL(`${secure ? 'https://upstream.test' : 'http://127.0.0.1'}:${port}/mcp`) };
}

function json(res: ServerResponse, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function transportOf(url: URL, options: ConstructorParameters<typeof StreamableHttpTransport>[1] = {}) {
  const transport = new StreamableHttpTransport(url, options);
  const messages: JSONRPCMessage[] = [];
  transport.onmessage = (m) => messages.push(m);
  closers.push(() => transport.close());
  return { transport, messages };
}

const initialize = { jsonrpc: '2.0' as const, id: 1, method: 'initialize', params: {} };

describe('StreamableHttpTransport', () => {
  it('keeps the session id, sends the version and merges headers: server, then the call, then its own', async () => {
    const { seen, url } = await upstream((req, res) => {
      if (req.body?.method === 'initialize') return json(res, { jsonrpc: '2.0', id: req.body.id, result: {} }, { 'Mcp-Session-Id': 'sess-1' });
      if (!req.body?.id) return void res.writeHead(202).end();
      json(res, { jsonrpc: '2.0', id: req.body.id, result: { ok: true } });
    });
    const { transport, messages } = transportOf(url, { headers: { authorization: 'Bearer server', 'x-static': 's', accept: 'text/plain' } });
    await transport.send(initialize);
    expect(transport.sessionId).toBe('sess-1');
    transport.setProtocolVersion('2025-06-18');
    await transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await withRequestHeaders({ authorization: 'Bearer caller', 'x-caller': 'c' }, () => transport.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' }));
    expect(messages).toEqual([
      { jsonrpc: '2.0', id: 1, result: {} },
      { jsonrpc: '2.0', id: 2, result: { ok: true } },
    ]);
    expect(seen[0]!.headers).not.toHaveProperty('mcp-session-id');
    expect(seen[2]!.headers).toMatchObject({
      authorization: 'Bearer caller',
      'x-static': 's',
      'x-caller': 'c',
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-session-id': 'sess-1',
      'mcp-protocol-version': '2025-06-18',
    });
    expect(transport.pendingRequests).toBe(0);
    await transport.close();
    // the session ends with a DELETE that carries the server's own headers, never a caller's
    expect(seen.at(-1)).toMatchObject({ method: 'DELETE', headers: { 'mcp-session-id': 'sess-1', authorization: 'Bearer server' } });
    expect(seen.at(-1)!.headers).not.toHaveProperty('x-caller');
  });

  it('delivers an event-stream answer, its notifications first', async () => {
    const { url } = await upstream((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } })}\n\n`);
      setTimeout(() => res.end(`data: ${JSON.stringify({ jsonrpc: '2.0', id: req.body!.id, result: { done: true } })}\n\n`), 10);
    });
    const { transport, messages } = transportOf(url);
    await transport.send({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'x' } });
    expect(messages.map((m) => ('method' in m ? m.method : 'result' in m ? m.result : m))).toEqual(['notifications/progress', { done: true }]);
  });

  it('throws SessionExpiredError on 404 with a session and UpstreamHttpError with the status and body otherwise', async () => {
    let status = 200;
    const { url } = await upstream((req, res) => {
      if (req.body?.method === 'initialize') return json(res, { jsonrpc: '2.0', id: 1, result: {} }, { 'mcp-session-id': 's' });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 404 ? 'unknown session' : 'upstream exploded');
    });
    const { transport } = transportOf(url);
    status = 500;
    const error = await transport.send({ jsonrpc: '2.0', id: 0, method: 'ping' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamHttpError);
    expect(error).toMatchObject({ status: 500, message: 'upstream answered HTTP 500: upstream exploded' });
    status = 200;
    await transport.send(initialize);
    status = 404;
    await expect(transport.send({ jsonrpc: '2.0', id: 2, method: 'ping' })).rejects.toBeInstanceOf(SessionExpiredError);
    status = 200;
    await expect(transport.send({ jsonrpc: '2.0', id: 3, method: 'ping' })).rejects.toThrow('unexpected content type "text/plain"');
    expect(transport.pendingRequests).toBe(0);
  });

  it('gives up a request on abort and on notifications/cancelled, and keeps serving the others', async () => {
    const { url } = await upstream((req, res) => {
      if (req.body?.method === 'slow') return; // never answers
      if (!req.body?.id) return void res.writeHead(202).end();
      json(res, { jsonrpc: '2.0', id: req.body.id, result: {} });
    });
    const { transport, messages } = transportOf(url);
    const aborted = transport.send({ jsonrpc: '2.0', id: 'a', method: 'slow' });
    const cancelled = transport.send({ jsonrpc: '2.0', id: 'b', method: 'slow' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(transport.pendingRequests).toBe(2);
    transport.abort('a');
    await expect(aborted).rejects.toThrow('request cancelled');
    await transport.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'b' } });
    await expect(cancelled).rejects.toThrow('request cancelled');
    await transport.send({ jsonrpc: '2.0', id: 'c', method: 'fast' });
    expect(messages).toEqual([{ jsonrpc: '2.0', id: 'c', result: {} }]);
    expect(transport.pendingRequests).toBe(0);
  });

  it('opens the notification stream after initialization and delivers what it carries', async () => {
    const { seen, url } = await upstream((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' })}\n\n`);
        return;
      }
      if (req.body?.method === 'initialize') return json(res, { jsonrpc: '2.0', id: 1, result: {} }, { 'mcp-session-id': 's' });
      res.writeHead(202).end();
    });
    const { transport, messages } = transportOf(url, { openNotificationStream: true });
    await transport.send(initialize);
    await transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await expect.poll(() => messages.length).toBe(2);
    expect(messages[1]).toEqual({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    expect(seen.find((r) => r.method === 'GET')!.headers).toMatchObject({ accept: 'text/event-stream', 'mcp-session-id': 's' });
    await transport.close();
  });

  it('exchanges 2026-07-28 requests: headers as given, JSON-RPC errors with HTTP errors are answers', async () => {
    const { seen, url } = await upstream((req, res) => {
      if (req.body?.method === 'bad') {
        res.writeHead(400, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ jsonrpc: '2.0', id: req.body.id, error: { code: -32001, message: 'header mismatch' } }));
      }
      if (req.body?.method === 'broken') return res.writeHead(502).end('bad gateway');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message' })}\n\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: req.body!.id, result: { x: 1 } })}\n\n`);
    });
    const { transport } = transportOf(url);
    const got: JSONRPCMessage[] = [];
    await transport.exchange({ jsonrpc: '2.0', id: 'm1', method: 'tools/call' }, { 'mcp-method': 'tools/call', 'mcp-protocol-version': '2026-07-28' }, (m) => got.push(m));
    await transport.exchange({ jsonrpc: '2.0', id: 'm2', method: 'bad' }, {}, (m) => got.push(m));
    expect(got).toEqual([
      { jsonrpc: '2.0', method: 'notifications/message' },
      { jsonrpc: '2.0', id: 'm1', result: { x: 1 } },
      { jsonrpc: '2.0', id: 'm2', error: { code: -32001, message: 'header mismatch' } },
    ]);
    await expect(transport.exchange({ jsonrpc: '2.0', id: 'm3', method: 'broken' }, {}, () => undefined)).rejects.toMatchObject({ status: 502 });
    expect(seen[0]!.headers).toMatchObject({ 'mcp-method': 'tools/call', 'mcp-protocol-version': '2026-07-28' });
    expect(transport.pendingRequests).toBe(0);
  });

  it('fails with the lookup\'s error when the address is refused', async () => {
    const refusal = new Error('upstream.test resolves to 169.254.169.254, which is always refused');
    const lookup: LookupFunction = (_host, _options, callback) => callback(refusal, '', 4);
    const { transport } = transportOf(new URL('http://upstream.test:9/mcp'), { lookup });
    await expect(transport.send(initialize)).rejects.toBe(refusal);
  });

  it('speaks to an https upstream, verifying its certificate', async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'http-transport-tls-'));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    try {
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=upstream.test', '-addext', 'subjectAltName=DNS:upstream.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
        { stdio: 'ignore' },
      );
    } catch {
      return ctx.skip(); // no openssl here
    }
    const cert = readFileSync(join(dir, 'cert.pem'));
    const { url } = await upstream((req, res) => json(res, { jsonrpc: '2.0', id: req.body!.id, result: { secure: true } }), { cert, key: readFileSync(join(dir, 'key.pem')) });
    const lookup: LookupFunction = (_host, options, callback) =>
      options.all ? (callback as unknown as (e: null, a: object[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4);
    const { transport, messages } = transportOf(url, { lookup, tls: { ca: cert } });
    await transport.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(messages).toEqual([{ jsonrpc: '2.0', id: 1, result: { secure: true } }]);
    const untrusted = transportOf(url, { lookup }).transport;
    await expect(untrusted.send({ jsonrpc: '2.0', id: 1, method: 'ping' })).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });
});
