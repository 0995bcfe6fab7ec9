import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonText, jsonParts, jsonString, type Json } from './json-text.js';
import { resultJson } from './jsonrpc.js';
import { modernReplyStatus, modernResultJson } from './modern.js';
import { PostResponder, writeJson } from './streamable-http.service.js';

/** A tool list as the dispatcher prepares it: large, with text that is not ASCII. */
const LIST = JSON.stringify({
  tools: Array.from({ length: 600 }, (_, i) => ({ name: `srv-tool${i}`, description: `does ${i} things — naïve “quotes” ✓ 𝄞`, inputSchema: { type: 'object' } })),
});
const fields = { serverInfo: { name: 'switchboard', version: '0.1.0' }, cache: { ttlMs: 30_000, cacheScope: 'public' as const } };

describe('JsonText', () => {
  it('is the same text as the string it was prepared from, in bytes and length', () => {
    const prepared = JsonText.prepared(LIST);
    expect(prepared.toString()).toBe(LIST);
    expect(prepared.byteLength).toBe(Buffer.byteLength(LIST));
    expect(prepared.toBuffer().equals(Buffer.from(LIST))).toBe(true);
  });

  it('joins strings to a string, and anything with bytes to parts whose text is the joined text', () => {
    expect(JsonText.concat(['[', 'a', ',', 'b', ']'])).toBe('[a,b]');
    const joined = JsonText.concat(['[', 'é', ',', JsonText.prepared('{"x":"ü"}'), ']']);
    expect(joined).toBeInstanceOf(JsonText);
    expect((joined as JsonText).parts.map((p) => typeof p)).toEqual(['string', 'object', 'string']);
    expect(jsonString(joined)).toBe('[é,{"x":"ü"}]');
    expect((joined as JsonText).byteLength).toBe(Buffer.byteLength('[é,{"x":"ü"}]'));
    expect(Buffer.concat(jsonParts(joined).map((p) => Buffer.from(p))).toString()).toBe('[é,{"x":"ü"}]');
  });

  it('spliced into a reply, reads exactly as the reply spliced from the text (both eras)', () => {
    for (const id of [7, 'id "é"', -1.5]) {
      const fromBytes = resultJson(id, JsonText.prepared(LIST));
      expect(fromBytes).toBeInstanceOf(JsonText);
      expect(jsonString(fromBytes)).toBe(resultJson(id, LIST));
      for (const text of [LIST, '{}', '{"prompts":[]}']) {
        const modern = resultJson(id, modernResultJson(JsonText.prepared(text), fields));
        expect(jsonString(modern)).toBe(resultJson(id, modernResultJson(text, fields)));
        expect(modernReplyStatus(modern)).toBe(200);
      }
    }
  });
});

/** Writes the same reply as text (`as: text`) or around prepared bytes (`as: bytes`), by each way a POST answers. */
function handler(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url!, 'http://x');
  const bytes = url.searchParams.get('as') === 'bytes';
  const list: Json = bytes ? JsonText.prepared(LIST) : LIST;
  const modern = url.searchParams.get('era') === 'modern';
  const reply = (id: number) => resultJson(id, modern ? modernResultJson(list, fields) : list);
  const responder = new PostResponder(req, res, 'p.abc.MQ.');
  switch (url.searchParams.get('way')) {
    case 'json':
      return writeJson(res, 200, reply(1));
    case 'batch':
      return responder.finish(JsonText.concat(['[', reply(1), ',', '{"jsonrpc":"2.0","id":2,"result":{}}', ',', reply(3), ']']));
    case 'streamed': // a progress notification first: the response is an SSE stream, the reply its last event
      responder.sendNotification({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } });
      return responder.finish(reply(1));
    default:
      return responder.finish(reply(1));
  }
}

/** The whole HTTP response as bytes off the socket (status line, headers, framing, body), its Date header left out. */
function fetchRaw(port: number, path: string, accept: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAccept: ${accept}\r\nConnection: close\r\n\r\n`));
    let raw = Buffer.alloc(0);
    socket.on('data', (c: Buffer) => {
      raw = Buffer.concat([raw, c]);
      const headEnd = raw.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = raw.subarray(0, headEnd).toString('latin1');
      const length = /\r\ncontent-length: (\d+)/i.exec(head)?.[1];
      const complete = length !== undefined ? raw.length - headEnd - 4 >= Number(length) : raw.subarray(-7).toString('latin1') === '\r\n0\r\n\r\n';
      if (!complete) return;
      socket.destroy(); // a stream says keep-alive: the last chunk ends it, not the connection
      resolve(Buffer.concat([Buffer.from(head.replace(/\r\nDate: [^\r]*/i, ''), 'latin1'), raw.subarray(headEnd)]));
    });
    socket.on('error', reject);
  });
}

describe('replies around prepared bytes on the wire', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const cases = [
    ['json', 'application/json, text/event-stream'],
    ['finish', 'application/json, text/event-stream'],
    ['finish', 'text/event-stream'], // a client that takes only a stream: the reply framed as one event
    ['batch', 'application/json, text/event-stream'],
    ['batch', 'text/event-stream'],
    ['streamed', 'application/json, text/event-stream'],
  ] as const;
  for (const era of ['legacy', 'modern']) {
    for (const [way, accept] of cases) {
      it(`are the same bytes on the wire as from text: ${era}, ${way}, accept ${accept}`, async () => {
        const text = await fetchRaw(port, `/?as=text&era=${era}&way=${way}`, accept);
        const bytes = await fetchRaw(port, `/?as=bytes&era=${era}&way=${way}`, accept);
        expect(text.length).toBeGreaterThan(LIST.length);
        expect(bytes.subarray(0, 300).toString('latin1')).toBe(text.subarray(0, 300).toString('latin1')); // readable when not
        expect(bytes.equals(text)).toBe(true);
      });
    }
  }
});
