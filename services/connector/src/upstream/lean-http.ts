/**
 * A small HTTP/1.1 client for the connector's upstream requests: a pool of keep-alive sockets to one origin,
 * each request written in one `socket.write` (head and body together), answers parsed here (status line,
 * headers, bodies by Content-Length, chunked or until close), bodies handed over as they arrive.
 *
 * Why not `http.request`: with its ClientRequest/IncomingMessage streams, agent bookkeeping and parser setup, a
 * keep-alive exchange costs about 2.5 times the CPU it costs here, and the connector makes one per proxied call.
 * What it does not do (no one here needs it): HEAD, pipelining, request bodies streamed, upgrades, proxies.
 */
import { maxHeaderSize } from 'node:http';
import net, { type LookupFunction } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import tls, { type ConnectionOptions } from 'node:tls';

export interface LeanHttpOptions {
  /** Resolves the host of every new connection (the connector's address check). */
  lookup?: LookupFunction;
  /** Connections open at once; requests beyond wait for one to be free. */
  maxSockets?: number;
  /** TCP keep-alive probes on connections (their first delay, ms). */
  keepAliveMsecs?: number;
  /** Extra TLS options for https origins (a CA in tests); certificates are verified as by `https`. */
  tls?: ConnectionOptions;
}

/** A request's headers: names are case-insensitive, the last of a name wins (as with `setHeader`). */
export type LeanHeaders = Record<string, string>;

/** The answer's status and headers (names lower-case; repeated ones joined with ", "), then its body. */
export class LeanResponse {
  private chunks: Buffer[] = [];
  private done = false;
  private failure: Error | undefined;
  private reader: BodyReader | undefined;

  constructor(
    readonly status: number,
    readonly headers: Record<string, string>,
  ) {}

  /** The whole body as UTF-8 text. */
  text(): Promise<string> {
    if (this.done && !this.reader) {
      // the usual case: the whole body came with the head
      this.reader = { data: () => undefined, end: () => undefined, fail: () => undefined };
      const chunks = this.chunks;
      this.chunks = [];
      return Promise.resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    }
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      this.read({
        data: (chunk) => parts.push(chunk),
        end: () => resolve(parts.length === 1 ? parts[0]!.toString('utf8') : Buffer.concat(parts).toString('utf8')),
        fail: reject,
      });
    });
  }

  /** The body as UTF-8 text, piece by piece as it arrives (a character split across reads is kept whole). */
  stream(onText: (text: string) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const decoder = new StringDecoder('utf8');
      this.read({
        data: (chunk) => {
          const text = decoder.write(chunk);
          if (text) onText(text);
        },
        end: () => {
          const rest = decoder.end();
          if (rest) onText(rest);
          resolve();
        },
        fail: reject,
      });
    });
  }

  /** Reads the body to its end and drops it (so the connection can serve the next request). */
  discard(): void {
    this.read({ data: () => undefined, end: () => undefined, fail: () => undefined });
  }

  /** @internal the connection's side */
  push(chunk: Buffer): void {
    if (this.reader) this.reader.data(chunk);
    else this.chunks.push(chunk);
  }

  /** @internal */
  end(): void {
    this.done = true;
    this.reader?.end();
  }

  /** @internal */
  fail(error: Error): void {
    if (this.done || this.failure) return;
    this.failure = error;
    this.reader?.fail(error);
  }

  private read(reader: BodyReader): void {
    if (this.reader) throw new Error('the response body is already being read');
    this.reader = reader;
    // what arrived before anyone asked for it
    const early = this.chunks;
    this.chunks = [];
    for (const chunk of early) reader.data(chunk);
    if (this.failure) reader.fail(this.failure);
    else if (this.done) reader.end();
  }
}

interface BodyReader {
  data(chunk: Buffer): void;
  end(): void;
  fail(error: Error): void;
}

/** One request: its answer's head comes as `response`; `destroy` gives it up (its connection is closed). */
export class LeanExchange {
  readonly response: Promise<LeanResponse>;
  /** @internal */ conn: Connection | undefined;
  /** @internal */ retried = false;
  private res: LeanResponse | undefined;
  private settled = false;
  private resolveHead!: (res: LeanResponse) => void;
  private rejectHead!: (error: Error) => void;

  constructor(
    private readonly client: LeanHttpClient,
    /** @internal head and body, written as one */
    readonly payload: string | Buffer,
  ) {
    this.response = new Promise((resolve, reject) => {
      this.resolveHead = resolve;
      this.rejectHead = reject;
    });
  }

  /** Gives up the request (waiting, being sent or being answered): its caller gets `error`. */
  destroy(error: Error = new Error('request aborted')): void {
    if (this.settled) return;
    const conn = this.conn;
    if (conn) conn.abandon(this);
    else this.client.unqueue(this);
    this.fail(error);
  }

  /** @internal */
  head(res: LeanResponse): void {
    this.res = res;
    this.resolveHead(res);
  }

  /** @internal the body ended */
  finish(): void {
    this.settled = true;
    this.conn = undefined;
    this.res?.end();
  }

  /** @internal */
  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.conn = undefined;
    if (this.res) this.res.fail(error);
    else this.rejectHead(error);
  }
}

const enum State {
  Idle,
  Head,
  Length,
  Chunked,
  UntilClose,
}

const enum Head {
  Body,
  Empty,
  Interim,
}

const enum ChunkState {
  Size,
  Data,
  DataEnd,
  Trailers,
}

/** Header names (RFC 9110 tokens) and values (no CR, LF or other controls but tab) that may be written. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const NOT_PRINTABLE_ASCII = /[^\t\x20-\x7e]/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: |\r|$)/;
/** The Connection header's tokens that matter. */
const CLOSE = /(?:^|,)\s*close\s*(?:,|$)/i;
const KEEP_ALIVE = /(?:^|,)\s*keep-alive\s*(?:,|$)/i;
/** At most this many bytes of a chunk-size or trailer line are kept while waiting for its end. */
const MAX_LINE = 8 * 1024;

/** One socket and the request it serves. */
class Connection {
  exchange: LeanExchange | undefined;
  /** Served a request before: a failure before any answer may be the server having closed it while idle. */
  reused = false;
  idleSince = 0;
  /** The server's Keep-Alive timeout hint (ms, less a margin), after which an idle connection is not used. */
  idleLimit = 0;
  private state = State.Idle;
  private received = false;
  private partial: Buffer | undefined;
  private res: LeanResponse | undefined;
  private remaining = 0;
  private chunkState = ChunkState.Size;
  private line = '';
  private keepAlive = false;
  private closed = false;

  constructor(
    readonly socket: net.Socket,
    private readonly client: LeanHttpClient,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (error: NodeJS.ErrnoException) => this.onError(error));
    socket.on('close', () => this.onClose());
  }

  start(exchange: LeanExchange): void {
    this.exchange = exchange;
    exchange.conn = this;
    this.state = State.Head;
    this.received = false;
    this.socket.ref();
    this.socket.write(exchange.payload);
  }

  /** The exchange was given up: its answer may still be coming, so the connection cannot serve another. */
  abandon(exchange: LeanExchange): void {
    if (this.exchange !== exchange) return;
    this.exchange = undefined;
    this.close();
  }

  /** Closes the socket and leaves the pool at once (its 'close' event comes later). */
  close(): void {
    this.closed = true;
    this.socket.destroy();
    this.client.forget(this);
  }

  private onData(chunk: Buffer): void {
    const exchange = this.exchange;
    if (!exchange) {
      // bytes while no request is out: nothing can be trusted on this connection any more
      this.close();
      return;
    }
    this.received = true;
    try {
      this.parse(chunk, exchange);
    } catch (error) {
      this.exchange = undefined;
      this.close();
      exchange.fail(error as Error);
    }
  }

  private parse(chunk: Buffer, exchange: LeanExchange): void {
    let buf = chunk;
    let i = 0;
    // stop when the exchange is over or was given up by a reader called from here
    while (this.exchange === exchange) {
      if (this.state === State.Head) {
        if (this.partial) {
          buf = Buffer.concat([this.partial, i ? buf.subarray(i) : buf]);
          this.partial = undefined;
          i = 0;
        }
        const end = headEnd(buf, i);
        if (end < 0) {
          if (buf.length - i > maxHeaderSize) throw parseError('the response head is too large');
          if (i < buf.length) this.partial = i ? buf.subarray(i) : buf;
          return;
        }
        if (end - i > maxHeaderSize) throw parseError('the response head is too large');
        const head = buf.toString('latin1', i, end);
        i = end;
        const kind = this.onHead(head, exchange);
        if (kind === Head.Interim) continue;
        if (kind === Head.Empty) return this.complete(exchange, i < buf.length);
      }
      if (i >= buf.length) return;
      if (this.state === State.Length) {
        const n = Math.min(this.remaining, buf.length - i);
        this.res!.push(buf.subarray(i, i + n));
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.complete(exchange, i < buf.length);
      } else if (this.state === State.UntilClose) {
        this.res!.push(i ? buf.subarray(i) : buf);
        return;
      } else if (this.state === State.Chunked) {
        i = this.chunked(buf, i, exchange);
      } else {
        return;
      }
    }
  }

  /** Takes a response head and sets up reading its body. */
  private onHead(head: string, exchange: LeanExchange): Head {
    // one pass over the lines (indexOf, no split: this runs once per request)
    let eol = head.indexOf('\n');
    const status = STATUS_LINE.exec(head.slice(0, eol));
    if (!status) throw parseError(`not an HTTP/1.x status line: ${JSON.stringify(head.slice(0, Math.min(eol, 80)))}`);
    const code = Number(status[2]);
    if (code === 101) throw parseError('the upstream switched protocols');
    if (code < 200) return Head.Interim; // 100 Continue, 103 Early Hints: the real answer follows
    const headers: Record<string, string> = {};
    let last: string | undefined;
    for (let start = eol + 1; start < head.length; start = eol + 1) {
      eol = head.indexOf('\n', start);
      if (eol < 0) eol = head.length;
      const end = eol > start && head.charCodeAt(eol - 1) === 13 ? eol - 1 : eol;
      if (end === start) continue;
      const first = head.charCodeAt(start);
      if (first === 32 || first === 9) {
        // an obsolete folded continuation of the previous header
        if (last === undefined) throw parseError('a folded header line with no header before it');
        headers[last] += ` ${head.slice(start, end).trim()}`;
        continue;
      }
      const colon = head.indexOf(':', start);
      if (colon <= start || colon > end) throw parseError(`a malformed header line: ${JSON.stringify(head.slice(start, Math.min(end, start + 80)))}`);
      const name = head.slice(start, colon).toLowerCase();
      const value = head.slice(colon + 1, end).trim();
      const previous = headers[name];
      if (previous === undefined) headers[name] = value;
      else if (name === 'content-length') {
        if (previous !== value) throw parseError('conflicting Content-Length headers');
      } else if (name !== 'content-type') headers[name] = `${previous}, ${value}`; // the first Content-Type counts, as in node:http
      last = name;
    }
    const http10 = status[1] === '0';
    const connection = headers.connection;
    this.keepAlive = connection === undefined ? !http10 : http10 ? KEEP_ALIVE.test(connection) : !CLOSE.test(connection);
    // the server's idle timeout, less a margin so that we never send on a connection it is about to close
    const hint = headers['keep-alive'] && /timeout=(\d+)/i.exec(headers['keep-alive']);
    const seconds = hint ? Number(hint[1]) : undefined;
    if (seconds === 0) this.keepAlive = false;
    this.idleLimit = seconds ? Math.max(seconds * 1000 - 1000, seconds * 500) : 0;

    const res = (this.res = new LeanResponse(code, headers));
    const te = headers['transfer-encoding'];
    const length = headers['content-length'];
    exchange.head(res);
    if (code === 204 || code === 304) return Head.Empty;
    if (te !== undefined) {
      // Transfer-Encoding wins over Content-Length; with both the framing is suspect: do not reuse the connection
      if (length !== undefined) this.keepAlive = false;
      if (/(?:^|,)\s*chunked\s*$/i.test(te)) {
        this.state = State.Chunked;
        this.chunkState = ChunkState.Size;
        this.line = '';
      } else {
        this.state = State.UntilClose;
        this.keepAlive = false;
      }
    } else if (length !== undefined) {
      if (!/^\d{1,15}$/.test(length)) throw parseError(`an invalid Content-Length: ${JSON.stringify(length.slice(0, 40))}`);
      this.remaining = Number(length);
      this.state = State.Length;
      if (this.remaining === 0) return Head.Empty;
    } else {
      this.state = State.UntilClose;
      this.keepAlive = false;
    }
    return Head.Body;
  }

  /** Decodes chunked framing from `buf[i..]`; returns where it stopped. */
  private chunked(buf: Buffer, i: number, exchange: LeanExchange): number {
    while (i < buf.length && this.exchange === exchange) {
      if (this.chunkState === ChunkState.Data) {
        const n = Math.min(this.remaining, buf.length - i);
        this.res!.push(buf.subarray(i, i + n));
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.chunkState = ChunkState.DataEnd;
        continue;
      }
      // the other states read a line
      const nl = buf.indexOf(10, i);
      if (nl < 0) {
        this.line += buf.toString('latin1', i);
        if (this.line.length > MAX_LINE) throw parseError('a chunk line is too long');
        return buf.length;
      }
      let line = this.line + buf.toString('latin1', i, nl);
      this.line = '';
      i = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (this.chunkState === ChunkState.Size) {
        const semi = line.indexOf(';'); // chunk extensions are ignored
        const hex = (semi < 0 ? line : line.slice(0, semi)).trim();
        if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw parseError(`an invalid chunk size: ${JSON.stringify(hex.slice(0, 40))}`);
        this.remaining = parseInt(hex, 16);
        this.chunkState = this.remaining === 0 ? ChunkState.Trailers : ChunkState.Data;
      } else if (this.chunkState === ChunkState.DataEnd) {
        if (line !== '') throw parseError('a chunk did not end with CRLF');
        this.chunkState = ChunkState.Size;
      } else if (line === '') {
        // the blank line after the (ignored) trailers: the body is complete
        this.complete(exchange, i < buf.length);
      }
    }
    return i;
  }

  /** The answer is complete: hand the connection back to the pool if it can serve another request. */
  private complete(exchange: LeanExchange, extraBytes: boolean): void {
    this.exchange = undefined;
    this.state = State.Idle;
    this.res = undefined;
    this.partial = undefined;
    // reusable unless the server said close, sent more than the answer, or answered before reading all we wrote
    if (this.keepAlive && !extraBytes && !this.closed && this.socket.writableLength === 0) {
      this.reused = true;
      this.client.release(this);
    } else {
      this.close();
    }
    exchange.finish();
  }

  private onEnd(): void {
    const exchange = this.exchange;
    if (exchange && this.state === State.UntilClose) {
      this.closed = true;
      this.complete(exchange, false);
      return;
    }
    // mid-body: the answer is cut short; before a complete head: as node:http says it
    this.onError(this.res ? new Error('upstream closed the response') : hangUp());
  }

  private onError(error: NodeJS.ErrnoException): void {
    this.close();
    const exchange = this.exchange;
    if (!exchange) return;
    this.exchange = undefined;
    // a kept-alive connection the server closed while idle fails before any answer: the request was not read
    if (this.reused && !this.received && !exchange.retried && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) {
      exchange.retried = true;
      exchange.conn = undefined;
      this.client.dispatch(exchange, true);
      return;
    }
    exchange.fail(error);
  }

  private onClose(): void {
    if (this.exchange) this.onError(hangUp());
    else this.close();
  }
}

/** A pool of keep-alive connections to one origin (scheme, host and port of `url`). */
export class LeanHttpClient {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly queue: LeanExchange[] = [];
  private readonly secure: boolean;
  private readonly host: string;
  private readonly port: number;
  private readonly hostHeader: string;
  private readonly authorization: string | undefined;
  private readonly maxSockets: number;
  private tlsSession: Buffer | undefined;
  private destroyed = false;

  constructor(
    url: URL,
    private readonly options: LeanHttpOptions = {},
  ) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported protocol ${url.protocol}`);
    this.secure = url.protocol === 'https:';
    this.host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.port = url.port ? Number(url.port) : this.secure ? 443 : 80;
    this.hostHeader = url.host;
    // user:password in the URL becomes Basic auth unless a header says otherwise, as with http.request
    this.authorization =
      url.username || url.password ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}` : undefined;
    this.maxSockets = options.maxSockets ?? 256;
  }

  /** Open connections (busy and idle). */
  get sockets(): net.Socket[] {
    return [...this.all].map((conn) => conn.socket);
  }

  /**
   * Sends one request to `path` (with its query). Throws at once, as http.request does, on a header that may not
   * be written; the answer's head, or the failure to get one, comes through the exchange's `response`.
   */
  request(method: string, path: string, headers: LeanHeaders, body?: string): LeanExchange {
    const exchange = new LeanExchange(this, this.serialize(method, path, headers, body));
    if (this.destroyed) exchange.fail(new Error('the client is closed'));
    else this.dispatch(exchange, false);
    return exchange;
  }

  /** Closes every connection; requests in flight or waiting fail. */
  destroy(): void {
    this.destroyed = true;
    for (const exchange of this.queue.splice(0)) exchange.fail(new Error('the client is closed'));
    for (const conn of this.all) conn.socket.destroy();
    this.idle.length = 0;
  }

  /** @internal on an idle connection if there is one, else a new one if allowed, else in the queue */
  dispatch(exchange: LeanExchange, fresh: boolean): void {
    if (this.destroyed) return exchange.fail(new Error('the client is closed'));
    if (!fresh) {
      const now = this.idle.length ? Date.now() : 0;
      for (let conn = this.idle.pop(); conn; conn = this.idle.pop()) {
        // past the server's keep-alive timeout it may be closing it right now: not worth the race
        if (conn.idleLimit && now - conn.idleSince >= conn.idleLimit) {
          conn.close();
          continue;
        }
        conn.start(exchange);
        return;
      }
    }
    if (this.all.size < this.maxSockets) this.connect().start(exchange);
    else this.queue.push(exchange);
  }

  /** @internal a connection finished its exchange and may serve another */
  release(conn: Connection): void {
    const next = this.queue.shift();
    if (next) return conn.start(next);
    conn.idleSince = Date.now();
    // an idle connection does not keep the process alive (as with http.Agent)
    conn.socket.unref();
    this.idle.push(conn);
  }

  /** @internal the connection closed */
  forget(conn: Connection): void {
    if (!this.all.delete(conn)) return;
    const at = this.idle.indexOf(conn);
    if (at >= 0) this.idle.splice(at, 1);
    const next = this.queue.shift();
    if (next) this.dispatch(next, false);
  }

  /** @internal a waiting exchange was given up */
  unqueue(exchange: LeanExchange): void {
    const at = this.queue.indexOf(exchange);
    if (at >= 0) this.queue.splice(at, 1);
  }

  private connect(): Connection {
    const { lookup, keepAliveMsecs = 10_000 } = this.options;
    const common = { host: this.host, port: this.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: keepAliveMsecs, ...(lookup ? { lookup } : {}) };
    let socket: net.Socket;
    if (this.secure) {
      socket = tls.connect({
        ...this.options.tls,
        ...common,
        // SNI names the host, never an address (as https does)
        ...(net.isIP(this.host) ? {} : { servername: this.host }),
        ...(this.tlsSession ? { session: this.tlsSession } : {}),
      });
      // resume TLS sessions on the next connections (as https.Agent does)
      socket.on('session', (session: Buffer) => (this.tlsSession = session));
      socket.once('error', () => (this.tlsSession = undefined));
      // tls.connect does not take these two from its options (applied once connected)
      socket.setNoDelay(true);
      socket.setKeepAlive(true, keepAliveMsecs);
    } else {
      socket = net.connect(common);
    }
    const conn = new Connection(socket, this);
    this.all.add(conn);
    return conn;
  }

  /** The request's head and body as one write: a string when all of it is ASCII, else bytes. */
  private serialize(method: string, path: string, headers: LeanHeaders, body: string | undefined): string | Buffer {
    let lines = '';
    let ascii = true;
    let lowerCase = true;
    for (const name in headers) {
      const value = headers[name];
      if (typeof value !== 'string') throw new TypeError(`Invalid value "${String(value)}" for header "${name}"`);
      if (!TOKEN.test(name)) throw new TypeError(`Header name must be a valid HTTP token ["${name}"]`);
      if (NOT_PRINTABLE_ASCII.test(value)) {
        if (INVALID_VALUE.test(value)) throw new TypeError(`Invalid character in header content ["${name}"]`);
        ascii = false;
      }
      if (lowerCase && name.toLowerCase() !== name) lowerCase = false;
      lines += `${name}: ${value}\r\n`;
    }
    // names that differ only in case: the last one wins, as with setHeader (rare: everything here is lower-case)
    const given = lowerCase ? headers : caseFolded(headers);
    if (!lowerCase) lines = Object.entries(given).reduce((text, [name, value]) => `${text}${name}: ${value}\r\n`, '');
    let head = `${method} ${path} HTTP/1.1\r\n`;
    if (given.host === undefined) head += `host: ${this.hostHeader}\r\n`;
    head += lines;
    if (this.authorization && given.authorization === undefined) head += `authorization: ${this.authorization}\r\n`;
    if (given.connection === undefined) head += 'connection: keep-alive\r\n';
    if (body !== undefined && given['content-length'] === undefined) head += `content-length: ${Buffer.byteLength(body)}\r\n`;
    head += '\r\n';
    // header values are latin1 on the wire (as node:http writes them), the body UTF-8
    if (ascii) return body === undefined ? head : head + body;
    return body === undefined ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body, 'utf8')]);
  }
}

/** Headers with lower-case names, the last of names equal but for case winning (in the first one's place). */
function caseFolded(headers: LeanHeaders): LeanHeaders {
  const out: LeanHeaders = {};
  for (const name in headers) out[name.toLowerCase()] = headers[name]!;
  return out;
}

/** Where the head that starts at `from` ends (after its blank line), or -1; bare LF line ends are accepted. */
function headEnd(buf: Buffer, from: number): number {
  const crlf = buf.indexOf('\r\n\r\n', from, 'latin1');
  if (crlf >= 0) {
    const lf = buf.subarray(from, crlf).indexOf('\n\n', 0, 'latin1');
    return lf >= 0 ? from + lf + 2 : crlf + 4;
  }
  const lf = buf.indexOf('\n\n', from, 'latin1');
  return lf < 0 ? -1 : lf + 2;
}

function parseError(message: string): Error {
  return Object.assign(new Error(`invalid HTTP response: ${message}`), { code: 'HPE_INVALID_RESPONSE' });
}

/** The server closed the connection before answering (the same words and code as node:http). */
function hangUp(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}
