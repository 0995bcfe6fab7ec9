import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { LeanHttpClient, type LeanResponse } from './lean-http.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A node:http server on 127.0.0.1; counts the connections it accepted. */
async function httpServer(handler: http.RequestListener) {
  const server = http.createServer(handler);
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp?x=1`);
  return { server, url, connections: () => connections };
}

/** A TCP server that answers with whatever bytes the test writes, to control framing and timing exactly. */
async function rawServer(onConnection: (socket: net.Socket, index: number) => void) {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    onConnection(socket, sockets.length - 1);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  return { url, connections: () => sockets.length };
}

/** Calls `answer` once per complete request head read on the socket (bodies are not expected). */
function onRequests(socket: net.Socket, answer: (head: string, n: number) => void): void {
  let buffered = '';
  let n = 0;
  socket.on('data', (chunk) => {
    buffered += chunk.toString('latin1');
    for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
      const head = buffered.slice(0, end);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      buffered = buffered.slice(end + 4 + length);
      answer(head, n++);
    }
  });
}

function client(url: URL, options: ConstructorParameters<typeof LeanHttpClient>[1] = {}) {
  const c = new LeanHttpClient(url, options);
  closers.push(() => c.destroy());
  return c;
}

async function post(c: LeanHttpClient, body = '{}', headers: Record<string, string> = {}): Promise<LeanResponse> {
  return c.request('POST', '/mcp', { 'content-type': 'application/json', ...headers }, body).response;
}

describe('LeanHttpClient', () => {
  it('reads Content-Length bodies and keeps the connection for the next requests', async () => {
    const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
    const { url, connections } = await httpServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('X-Multi', ['a', 'b']);
        res.end(JSON.stringify({ echo: body }));
      });
    });
    const c = client(url);
    for (let i = 0; i < 5; i++) {
      const res = await c.request('POST', '/mcp?x=1', { 'Content-Type': 'application/json' }, `{"n":"é${i}"}`).response;
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.headers['x-multi']).toBe('a, b');
      expect(JSON.parse(await res.text())).toEqual({ echo: `{"n":"é${i}"}` });
    }
    expect(connections()).toBe(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/mcp?x=1', body: '{"n":"é0"}' });
    expect(seen[0]!.headers).toMatchObject({ host: url.host, connection: 'keep-alive', 'content-length': String(Buffer.byteLength('{"n":"é0"}')) });
  });

  it('merges request header names case-insensitively (the last wins) and refuses header injection', async () => {
    const { url } = await httpServer((req, res) => res.end(JSON.stringify(req.rawHeaders)));
    const c = client(url);
    const res = await c.request('GET', '/', { authorization: 'first', 'X-Thing': 'one', Authorization: 'second', 'x-thing': 'two' }).response;
    const raw = JSON.parse(await res.text()) as string[];
    const pairs = raw.flatMap((v, i) => (i % 2 ? [] : [[v.toLowerCase(), raw[i + 1]]]));
    expect(pairs.filter(([name]) => name === 'authorization')).toEqual([['authorization', 'second']]);
    expect(pairs.filter(([name]) => name === 'x-thing')).toEqual([['x-thing', 'two']]);
    expect(() => c.request('GET', '/', { 'x-evil': 'a\r\nx-injected: 1' })).toThrow(TypeError);
    expect(() => c.request('GET', '/', { 'bad name': 'a' })).toThrow(TypeError);
  });

  it('sends latin1 header values as latin1 and the body as UTF-8', async () => {
    const { url } = await httpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(JSON.stringify({ header: Buffer.from(req.headers['x-name'] as string, 'latin1').toString('hex'), body: Buffer.concat(chunks).toString('utf8') })));
    });
    const res = await client(url).request('POST', '/', { 'x-name': 'café' }, 'naïve ✓').response;
    expect(JSON.parse(await res.text())).toEqual({ header: Buffer.from('café', 'latin1').toString('hex'), body: 'naïve ✓' });
  });

  it('decodes chunked bodies, with extensions and trailers, cut anywhere', async () => {
    const answer = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n';
    const { url, connections } = await rawServer((socket) =>
      onRequests(socket, async () => {
        // one byte at a time: every state of the parser meets a boundary
        for (const byte of Buffer.from(answer, 'latin1')) {
          socket.write(Buffer.from([byte]));
          await sleep(0);
        }
      }),
    );
    const c = client(url);
    expect(await (await post(c)).text()).toBe('hello, world');
    expect(await (await post(c)).text()).toBe('hello, world'); // the same connection serves the next
    expect(connections()).toBe(1);
  });

  it("decodes node:http's own chunked answers", async () => {
    const { url, connections } = await httpServer(async (_req, res) => {
      res.write('{"a":');
      await sleep(5);
      res.write('[1,');
      res.end('2]}');
    });
    const c = client(url);
    for (let i = 0; i < 3; i++) {
      const res = await post(c);
      expect(res.headers['transfer-encoding']).toBe('chunked');
      expect(JSON.parse(await res.text())).toEqual({ a: [1, 2] });
    }
    expect(connections()).toBe(1);
  });

  it("does not send on an idle connection past the server's Keep-Alive timeout", async () => {
    const { url, connections } = await rawServer((socket) =>
      onRequests(socket, () => socket.write('HTTP/1.1 200 OK\r\nkeep-alive: timeout=1\r\ncontent-length: 2\r\n\r\nok')),
    );
    const c = client(url);
    expect(await (await post(c)).text()).toBe('ok');
    expect(await (await post(c)).text()).toBe('ok');
    expect(connections()).toBe(1);
    await sleep(600); // the server would close it at 1 s: we keep a margin
    expect(await (await post(c)).text()).toBe('ok');
    expect(connections()).toBe(2);
  });

  it('streams an event stream as it trickles, before it ends', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { url } = await httpServer(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      await gate;
      res.write('data: t');
      await sleep(20);
      res.end('wo\n\n');
    });
    const c = client(url);
    const res = await post(c);
    const texts: string[] = [];
    let resolveFirst!: () => void;
    const first = new Promise<void>((resolve) => (resolveFirst = resolve));
    const done = res.stream((text) => {
      texts.push(text);
      resolveFirst();
    });
    await first;
    expect(texts.join('')).toBe('data: one\n\n');
    release();
    await done;
    expect(texts.join('')).toBe('data: one\n\ndata: two\n\n');
    expect(texts.length).toBeGreaterThanOrEqual(2); // the first event came alone, before the gate opened
  });

  it('keeps a UTF-8 character split across reads whole', async () => {
    const body = Buffer.from('data: ✓✓\n\n', 'utf8');
    const { url } = await rawServer((socket) =>
      onRequests(socket, async () => {
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: ${body.length}\r\n\r\n`);
        for (let i = 0; i < body.length; i += 2) {
          socket.write(body.subarray(i, i + 2));
          await sleep(1);
        }
      }),
    );
    const texts: string[] = [];
    await (await post(client(url))).stream((t) => texts.push(t));
    expect(texts.join('')).toBe('data: ✓✓\n\n');
    expect(texts.every((t) => !t.includes('\ufffd'))).toBe(true);
  });

  it('waits for slow headers', async () => {
    const { url } = await rawServer((socket) =>
      onRequests(socket, async () => {
        for (const part of ['HTTP/1.1 2', '00 OK\r\ncontent-le', 'ngth: 2\r', '\n\r', '\nok']) {
          socket.write(part);
          await sleep(15);
        }
      }),
    );
    const res = await post(client(url));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
  });

  it('ignores interim (1xx) answers', async () => {
    const { url } = await httpServer((_req, res) => {
      res.writeContinue();
      res.writeEarlyHints({ link: '</style.css>; rel=preload' });
      res.end('final');
    });
    const res = await post(client(url));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('final');
  });

  it('returns error statuses with their bodies (and the connection stays usable)', async () => {
    const { url, connections } = await httpServer((req, res) => {
      res.statusCode = req.url === '/missing' ? 404 : 500;
      res.end(req.url === '/missing' ? 'no such session' : 'boom');
    });
    const c = client(url);
    const missing = await c.request('POST', '/missing', {}, '{}').response;
    expect([missing.status, await missing.text()]).toEqual([404, 'no such session']);
    const failed = await c.request('POST', '/other', {}, '{}').response;
    expect([failed.status, await failed.text()]).toEqual([500, 'boom']);
    const empty = await c.request('DELETE', '/x', {}).response;
    expect(empty.status).toBe(500);
    empty.discard();
    expect(connections()).toBe(1);
  });

  it('reads a body without length until the server closes, and then uses a new connection', async () => {
    const { url, connections } = await rawServer((socket) =>
      onRequests(socket, () => {
        socket.write('HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n{"a":');
        setTimeout(() => socket.end('1}'), 10);
      }),
    );
    const c = client(url);
    expect(await (await post(c)).text()).toBe('{"a":1}');
    expect(await (await post(c)).text()).toBe('{"a":1}');
    expect(connections()).toBe(2);
  });

  it('does not reuse a connection the server answered with Connection: close', async () => {
    const { url, connections } = await httpServer((_req, res) => {
      res.setHeader('connection', 'close');
      res.end('bye');
    });
    const c = client(url);
    for (let i = 0; i < 3; i++) expect(await (await post(c)).text()).toBe('bye');
    expect(connections()).toBe(3);
    await sleep(20);
    expect(c.sockets).toEqual([]);
  });

  it('drops an idle connection the server closed, and opens a new one', async () => {
    const { url, connections } = await rawServer((socket) =>
      onRequests(socket, () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        setTimeout(() => socket.end(), 5); // idle close, without a Keep-Alive hint
      }),
    );
    const c = client(url);
    expect(await (await post(c)).text()).toBe('ok');
    await sleep(50);
    expect(c.sockets).toEqual([]);
    expect(await (await post(c)).text()).toBe('ok');
    expect(connections()).toBe(2);
  });

  it('retries once on a new connection when a reused one is closed before any answer', async () => {
    let requests = 0;
    const { url, connections } = await rawServer((socket, index) =>
      onRequests(socket, (_head, n) => {
        requests++;
        // the first connection answers once, then drops the second request unanswered (an idle-close race)
        if (index === 0 && n === 1) socket.destroy();
        else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      }),
    );
    const c = client(url);
    expect(await (await post(c)).text()).toBe('ok');
    expect(await (await post(c)).text()).toBe('ok');
    expect([requests, connections()]).toEqual([3, 2]);
  });

  it('fails, without retrying, when a new connection is closed before any answer', async () => {
    const { url, connections } = await rawServer((socket) => onRequests(socket, () => socket.destroy()));
    await expect(post(client(url))).rejects.toMatchObject({ message: 'socket hang up', code: 'ECONNRESET' });
    expect(connections()).toBe(1);
  });

  it('fails the body when the connection breaks mid-answer', async () => {
    const { url } = await rawServer((socket) =>
      onRequests(socket, () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 100\r\n\r\ndata: partial\n\n');
        setTimeout(() => socket.destroy(), 10);
      }),
    );
    const res = await post(client(url));
    const texts: string[] = [];
    await expect(res.stream((t) => texts.push(t))).rejects.toThrow(/upstream closed the response|ECONNRESET/);
    expect(texts.join('')).toBe('data: partial\n\n');
  });

  it('fails on a malformed answer', async () => {
    const { url } = await rawServer((socket) => onRequests(socket, () => socket.write('SMTP ready\r\n\r\n')));
    await expect(post(client(url))).rejects.toMatchObject({ code: 'HPE_INVALID_RESPONSE' });
    const chunked = await rawServer((socket) => onRequests(socket, () => socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n')));
    const res = await post(client(chunked.url));
    await expect(res.text()).rejects.toThrow(/invalid chunk size/);
  });

  it('does not reuse a connection whose answer came before the request was written', async () => {
    const big = 'x'.repeat(16 * 1024 * 1024);
    const { url, connections } = await rawServer((socket, index) => {
      if (index === 0) {
        // answer at the first bytes and stop reading: the rest of the body would be taken for the next request
        socket.once('data', () => {
          socket.pause();
          socket.write('HTTP/1.1 413 Payload Too Large\r\ncontent-length: 3\r\n\r\nbig');
        });
      } else {
        onRequests(socket, () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
      }
    });
    const c = client(url);
    const res = await c.request('POST', '/', {}, big).response;
    expect([res.status, await res.text()]).toEqual([413, 'big']);
    expect(await (await post(c)).text()).toBe('ok');
    expect(connections()).toBe(2);
  });

  it('gives up one request without disturbing the others', async () => {
    const { url } = await httpServer((req, res) => {
      if (req.url === '/slow') {
        res.flushHeaders(); // the head now, the body later
        setTimeout(() => res.end('late'), 200);
      }
      else setTimeout(() => res.end('fine'), 20);
    });
    const c = client(url);
    const slow = c.request('GET', '/slow', {});
    const fast = c.request('GET', '/fast', {});
    slow.destroy(new Error('request cancelled'));
    await expect(slow.response).rejects.toThrow('request cancelled');
    expect(await (await fast.response).text()).toBe('fine');
    // given up while its body is streaming
    const streaming = c.request('GET', '/slow', {});
    const res = await streaming.response;
    const body = res.text();
    streaming.destroy(new Error('request cancelled'));
    await expect(body).rejects.toThrow('request cancelled');
    expect(await (await c.request('GET', '/fast', {}).response).text()).toBe('fine');
  });

  it('queues requests beyond maxSockets and gives up a queued one', async () => {
    const { url, connections } = await httpServer((_req, res) => setTimeout(() => res.end('ok'), 10));
    const c = client(url, { maxSockets: 1 });
    const a = c.request('GET', '/', {});
    const b = c.request('GET', '/', {});
    const d = c.request('GET', '/', {});
    b.destroy(new Error('nope'));
    await expect(b.response).rejects.toThrow('nope');
    expect(await (await a.response).text()).toBe('ok');
    expect(await (await d.response).text()).toBe('ok');
    expect(connections()).toBe(1);
  });

  it('resolves every new connection through lookup, and fails with its error', async () => {
    const { url } = await httpServer((_req, res) => res.end('ok'));
    const calls: string[] = [];
    const lookup: LookupFunction = (hostname, options, callback) => {
      calls.push(hostname);
      if (hostname === 'refused.test') return callback(Object.assign(new Error('refused by the rules'), { code: 'EREFUSED' }), '', 4);
      if (options.all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
      else callback(null, '127.0.0.1', 4);
    };
    const c = client(new URL(`http://upstream.test:${url.port}/`), { lookup });
    expect(await (await post(c)).text()).toBe('ok');
    expect(await (await post(c)).text()).toBe('ok');
    expect(calls).toEqual(['upstream.test']);
    await expect(post(client(new URL(`http://refused.test:${url.port}/`), { lookup }))).rejects.toThrow('refused by the rules');
  });

  it('fails requests in flight when destroyed', async () => {
    const { url } = await httpServer(() => undefined);
    const c = client(url);
    const pending = post(c);
    await sleep(20);
    c.destroy();
    await expect(pending).rejects.toThrow();
    await expect(post(c)).rejects.toThrow('the client is closed');
  });
});

describe('LeanHttpClient over TLS', () => {
  let dir: string;
  let cert: Buffer | undefined;
  let key: Buffer;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lean-http-tls-'));
    try {
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=upstream.test', '-addext', 'subjectAltName=DNS:upstream.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
        { stdio: 'ignore' },
      );
      cert = readFileSync(join(dir, 'cert.pem'));
      key = readFileSync(join(dir, 'key.pem'));
    } catch {
      cert = undefined; // no openssl here: the TLS cases are skipped
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const lookup: LookupFunction = (_hostname, options, callback) => {
    if (options.all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
  };

  async function tlsServer() {
    const names: (string | undefined)[] = [];
    let connections = 0;
    const server = https.createServer({ cert, key }, (req, res) => {
      names.push((req.socket as import('node:tls').TLSSocket).servername || undefined);
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    });
    server.on('secureConnection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
    return { port: (server.address() as AddressInfo).port, names, connections: () => connections };
  }

  it('speaks TLS with SNI, verifies the certificate and reuses the connection', async (ctx) => {
    if (!cert) return ctx.skip();
    const { port, names, connections } = await tlsServer();
    const c = client(new URL(`https://upstream.test:${port}/mcp`), { lookup, tls: { ca: cert } });
    for (let i = 0; i < 3; i++) expect(await (await post(c)).text()).toBe('{"ok":true}');
    expect(names).toEqual(['upstream.test', 'upstream.test', 'upstream.test']);
    expect(connections()).toBe(1);
  });

  it('refuses a certificate it cannot verify', async (ctx) => {
    if (!cert) return ctx.skip();
    const { port } = await tlsServer();
    await expect(post(client(new URL(`https://upstream.test:${port}/mcp`), { lookup }))).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    // a certificate for another name
    await expect(post(client(new URL(`https://other.test:${port}/mcp`), { lookup, tls: { ca: cert } }))).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
});
