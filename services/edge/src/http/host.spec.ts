import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostPolicy, isLoopbackBind, parseHost } from './host.js';

describe('HostPolicy', () => {
  it('with a list, accepts exactly the listed hosts: a name with any port, name:port, *.domain', () => {
    const sut = HostPolicy.from(['Gateway.Example.com', 'internal:8443', '*.corp.example', ' '], '0.0.0.0');
    expect(sut.checks).toBe(true);
    for (const host of ['gateway.example.com', 'GATEWAY.example.com:4000', 'internal:8443', 'mcp.corp.example', 'a.b.corp.example:80']) {
      expect(sut.allows(host), host).toBe(true);
    }
    for (const host of [undefined, '', 'evil.example', 'gateway.example.com.evil.io', 'internal', 'internal:4000', 'corp.example', 'xcorp.example', 'localhost:4000', '127.0.0.1']) {
      expect(sut.allows(host), String(host)).toBe(false);
    }
  });

  it('without a list and bound to a loopback address, accepts only loopback names with any port', () => {
    for (const bind of ['127.0.0.1', '::1', '[::1]', 'localhost', '127.0.1.1']) {
      const sut = HostPolicy.from([], bind);
      for (const host of ['localhost', 'localhost:4000', '127.0.0.1:4000', '[::1]:4000', '[::1]']) expect(sut.allows(host), `${bind} ${host}`).toBe(true);
      for (const host of ['evil.example:4000', 'localhost.evil.example', '127.0.0.1.nip.io', '192.168.1.2:4000']) expect(sut.allows(host), `${bind} ${host}`).toBe(false);
    }
  });

  it('without a list and bound to any other address, checks nothing; "*" in the list checks nothing either', () => {
    for (const sut of [HostPolicy.from([], '0.0.0.0'), HostPolicy.from([], '::'), HostPolicy.from(['*'], '127.0.0.1')]) {
      expect(sut.checks).toBe(false);
      expect(sut.allows('anything.example')).toBe(true);
      expect(sut.allows(undefined)).toBe(true);
    }
  });

  it('an explicit list replaces the loopback default', () => {
    const sut = HostPolicy.from(['gw.example'], '127.0.0.1');
    expect(sut.allows('gw.example:4000')).toBe(true);
    expect(sut.allows('localhost:4000')).toBe(false);
  });

  it('parses Host values and loopback bind addresses', () => {
    expect(parseHost('[::1]:4000')).toEqual({ name: '[::1]', port: '4000' });
    expect(parseHost('Example.COM')).toEqual({ name: 'example.com', port: undefined });
    expect(parseHost('a.b:80')).toEqual({ name: 'a.b', port: '80' });
    expect(isLoopbackBind('0.0.0.0')).toBe(false);
    expect(isLoopbackBind('10.0.0.1')).toBe(false);
  });
});

describe('HostPolicy.admit on a real HTTP server', () => {
  let server: Server;
  let port: number;
  const sut = HostPolicy.from(['gw.example'], '0.0.0.0');

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (sut.admit(req, res)) res.writeHead(200, { 'content-type': 'text/plain' }).end('passed');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const get = (path: string, host: string) =>
    new Promise<{ status: number; body: string; type: string }>((done, fail) => {
      const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers: { host } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => done({ status: res.statusCode!, body, type: String(res.headers['content-type']) }));
      });
      req.on('error', fail);
      req.end();
    });

  it('passes allowed hosts and /health/* whatever the Host', async () => {
    expect(await get('/mcp', 'gw.example:443')).toMatchObject({ status: 200, body: 'passed' });
    expect(await get('/health/readiness', 'evil.example')).toMatchObject({ status: 200, body: 'passed' });
    expect(await get('/health/liveliness', 'evil.example')).toMatchObject({ status: 200 });
  });

  it('answers 403 with a JSON-RPC error on the MCP endpoints', async () => {
    for (const path of ['/mcp', '/mcp/github', '/github/mcp', '/sse', '/messages?sessionId=x']) {
      const reply = await get(path, 'evil.example');
      expect(reply.status, path).toBe(403);
      expect(reply.type).toContain('application/json');
      expect(JSON.parse(reply.body)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Host evil.example is not allowed' } });
    }
  });

  it('answers 403 with a JSON error everywhere else', async () => {
    for (const path of ['/v1/models', '/key/generate', '/mcp-rest/tools/list', '/ui', '/metrics', '/healthz']) {
      const reply = await get(path, 'evil.example:4000');
      expect(reply.status, path).toBe(403);
      expect(JSON.parse(reply.body)).toMatchObject({ error: { message: 'Host evil.example:4000 is not allowed', code: '403' } });
    }
  });
});
