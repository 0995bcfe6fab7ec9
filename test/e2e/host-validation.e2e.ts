import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODES, keyHeaders, printLogsOnFailure, request, startSuite, type Suite } from './support/index.js';

// Issue 7: Host validation (DNS-rebinding protection). ALLOWED_HOSTS (env) and general_settings.allowed_hosts list
// the Host values the edge accepts; a request with any other Host gets 403 on every path but /health/*. Unset, an
// edge bound to a loopback address accepts only loopback names.

interface Reply {
  status: number;
  body: any;
}

/** One request with a Host header of our choosing (fetch does not let a caller set Host). */
function send(base: string, host: string, method: 'GET' | 'POST', path: string, key?: string, body?: unknown): Promise<Reply> {
  const url = new URL(base);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((done, fail) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: {
          host,
          accept: 'application/json, text/event-stream',
          ...(key ? keyHeaders(key) : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* keep the text */
          }
          done({ status: res.statusCode!, body: parsed });
        });
      },
    );
    req.on('error', fail);
    req.end(payload);
  });
}

const initialize = () => request('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'host-e2e', version: '1' } });

describe.each(MODES)('%s', (mode) => {
  describe('with ALLOWED_HOSTS and general_settings.allowed_hosts', () => {
    let suite: Suite | undefined;
    printLogsOnFailure(() => suite);

    beforeAll(async () => {
      suite = await startSuite({
        mode,
        env: { ALLOWED_HOSTS: 'gateway.example.com' },
        config: { general_settings: { allowed_hosts: ['*.internal.example'] } },
      });
    });
    afterAll(async () => {
      await suite?.stop();
    });

    const base = () => suite!.edgeUrls[0]!;
    const port = () => new URL(base()).port;

    it('serves requests whose Host is listed, by either setting', async () => {
      for (const host of [`gateway.example.com:${port()}`, 'gateway.example.com', `mcp.internal.example:${port()}`]) {
        const mcp = await send(base(), host, 'POST', '/mcp', suite!.masterKey, initialize());
        expect(mcp.status, `${host}: ${JSON.stringify(mcp.body)}`).toBe(200);
        expect(mcp.body.result.serverInfo).toBeDefined();
        const models = await send(base(), host, 'GET', '/v1/models', suite!.masterKey);
        expect(models.status, host).toBe(200);
      }
    });

    it('answers 403 to any other Host: a JSON-RPC error on /mcp and /sse, JSON elsewhere; /health/* stays open', async () => {
      for (const host of ['evil.example', `127.0.0.1:${port()}`, `localhost:${port()}`, 'gateway.example.com.evil.io']) {
        const mcp = await send(base(), host, 'POST', '/mcp', suite!.masterKey, initialize());
        expect(mcp.status, host).toBe(403);
        expect(mcp.body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32600, message: `Host ${host} is not allowed` } });
        const sse = await send(base(), host, 'GET', '/sse', suite!.masterKey);
        expect(sse.status, host).toBe(403);
        expect(sse.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 } });
        for (const path of ['/v1/models', '/key/list', '/mcp-rest/tools/list']) {
          const rest = await send(base(), host, 'GET', path, suite!.masterKey);
          expect(rest.status, `${host} ${path}`).toBe(403);
          expect(rest.body.error.message, path).toBe(`Host ${host} is not allowed`);
        }
        expect((await send(base(), host, 'GET', '/health/readiness')).status).toBe(200);
        expect((await send(base(), host, 'GET', '/health/liveliness')).status).toBe(200);
      }
    });
  });

  describe('bound to 127.0.0.1 without ALLOWED_HOSTS', () => {
    let suite: Suite | undefined;
    printLogsOnFailure(() => suite);

    beforeAll(async () => {
      suite = await startSuite({ mode, env: { HOST: '127.0.0.1' } });
    });
    afterAll(async () => {
      await suite?.stop();
    });

    const base = () => suite!.edgeUrls[0]!;
    const port = () => new URL(base()).port;

    it('accepts only loopback host names, with any port', async () => {
      for (const host of [`localhost:${port()}`, `127.0.0.1:${port()}`, `[::1]:${port()}`, 'localhost']) {
        const mcp = await send(base(), host, 'POST', '/mcp', suite!.masterKey, initialize());
        expect(mcp.status, `${host}: ${JSON.stringify(mcp.body)}`).toBe(200);
      }
      // A rebinding attacker's name that resolves to 127.0.0.1 still carries its own Host.
      for (const host of [`rebind.attacker.example:${port()}`, `127.0.0.1.nip.io:${port()}`]) {
        const mcp = await send(base(), host, 'POST', '/mcp', suite!.masterKey, initialize());
        expect(mcp.status, host).toBe(403);
        expect(mcp.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 } });
        const models = await send(base(), host, 'GET', '/v1/models', suite!.masterKey);
        expect(models.status, host).toBe(403);
        expect((await send(base(), host, 'GET', '/health/readiness')).status).toBe(200);
      }
    });
  });
});
