// The client side of `npm run bench`: a raw JSON-RPC HTTP client (node:http, keep-alive, closed loop) that speaks a
// 2025 session (initialize, Mcp-Session-Id) or 2026-07-28 stateless requests (`_meta` envelope, mirrored headers)
// to the gateway or to an upstream directly, and the rounds and statistics built on it.
import http from 'node:http';

/** Both sides speak this revision in 2025 sessions (server-everything answers 2025-11-25 sessions about 1.2 ms slower). */
export const PROTOCOL_VERSION = '2025-06-18';
export const MODERN_VERSION = '2026-07-28';

export const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });

/** One HTTP request with keep-alive; resolves with status, headers, body text and the ms until its last byte. */
export function post(url, body, headers, { method = 'POST' } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const started = process.hrtime.bigint();
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: {
          accept: 'application/json, text/event-stream',
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          const buffer = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
          resolve({ status: res.statusCode, headers: res.headers, text: buffer.toString('utf8'), bytes: buffer.length, ms });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** GET (or another method) returning parsed JSON. */
export async function getJson(url, headers = {}, method = 'GET', body) {
  const response = await post(url, body, headers, { method });
  if (response.status >= 300) throw new Error(`${method} ${url} answered ${response.status}: ${response.text.slice(0, 300)}`);
  return response.text ? JSON.parse(response.text) : undefined;
}

/** The JSON-RPC reply in a JSON body or an SSE-framed one (server-everything answers with SSE). */
export function replyOf(response, id) {
  const type = String(response.headers['content-type'] ?? '');
  if (type.includes('text/event-stream')) {
    for (const line of response.text.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const message = JSON.parse(line.slice(5));
      if (message.id === id) return message;
    }
    return undefined;
  }
  return response.text ? JSON.parse(response.text) : undefined;
}

/** A 2025-era client: one MCP session (initialize once, then every request carries its Mcp-Session-Id). */
export class Session {
  constructor(url, headers, { capabilities = {} } = {}) {
    this.url = new URL(url);
    this.headers = { ...headers };
    this.capabilities = capabilities;
    this.nextId = 1;
  }

  async initialize() {
    const id = this.nextId++;
    const response = await post(
      this.url,
      { jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: PROTOCOL_VERSION, capabilities: this.capabilities, clientInfo: { name: 'bench', version: '1' } } },
      this.headers,
    );
    const reply = replyOf(response, id);
    if (response.status !== 200 || !reply?.result) throw new Error(`initialize on ${this.url} answered ${response.status}: ${response.text.slice(0, 300)}`);
    this.sessionId = response.headers['mcp-session-id'];
    this.headers['mcp-session-id'] = this.sessionId;
    this.headers['mcp-protocol-version'] = reply.result.protocolVersion;
    const notified = await post(this.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, this.headers);
    if (notified.status >= 300) throw new Error(`notifications/initialized answered ${notified.status}`);
    return this;
  }

  requestHeaders() {
    return this.headers;
  }

  params(params) {
    return params;
  }

  checkResult(result) {
    return result !== undefined;
  }

  /** One tools/call of an echo tool; returns its latency in ms, or throws when the answer is not the echo. */
  async call(tool, message) {
    const id = this.nextId++;
    const response = await post(this.url, { jsonrpc: '2.0', id, method: 'tools/call', params: this.params({ name: tool, arguments: { message } }) }, this.requestHeaders('tools/call', tool));
    const reply = replyOf(response, id);
    const text = reply?.result?.content?.[0]?.text;
    if (response.status !== 200 || text !== `Echo: ${message}` || !this.checkResult(reply.result)) throw new Error(`tools/call ${tool} answered ${response.status}: ${response.text.slice(0, 300)}`);
    return response.ms;
  }

  /** One tools/list: the ms until its last byte, its size, and (parsed after the clock stopped) the tools. */
  async listTools() {
    const id = this.nextId++;
    const response = await post(this.url, { jsonrpc: '2.0', id, method: 'tools/list', params: this.params({}) }, this.requestHeaders('tools/list'));
    if (response.status !== 200) throw new Error(`tools/list answered ${response.status}: ${response.text.slice(0, 300)}`);
    const tools = replyOf(response, id)?.result?.tools;
    if (!Array.isArray(tools)) throw new Error(`tools/list without tools: ${response.text.slice(0, 300)}`);
    return { ms: response.ms, bytes: response.bytes, tools };
  }
}

/**
 * A 2026-07-28 client: no session; every request carries its revision, capabilities and client info in `_meta` and
 * mirrors them in headers. `initialize` asks `server/discover` once (the revision must be offered).
 */
export class ModernSession extends Session {
  meta() {
    return { 'io.modelcontextprotocol/protocolVersion': MODERN_VERSION, 'io.modelcontextprotocol/clientCapabilities': this.capabilities, 'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' } };
  }

  async initialize() {
    const id = this.nextId++;
    const response = await post(this.url, { jsonrpc: '2.0', id, method: 'server/discover', params: { _meta: this.meta() } }, this.requestHeaders('server/discover'));
    const reply = replyOf(response, id);
    if (response.status !== 200 || !reply?.result?.supportedVersions?.includes(MODERN_VERSION)) {
      throw new Error(`server/discover on ${this.url} answered ${response.status}: ${response.text.slice(0, 300)}`);
    }
    return this;
  }

  requestHeaders(method, name) {
    return { ...this.headers, 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': method, ...(name ? { 'mcp-name': name } : {}) };
  }

  params(params) {
    return { ...params, _meta: this.meta() };
  }

  checkResult(result) {
    return result?.resultType === 'complete';
  }
}

/** A side's session factory: `modern` picks the 2026-07-28 client. */
export function newSession(side, options) {
  return side.modern ? new ModernSession(side.url, side.headers, options) : new Session(side.url, side.headers, options);
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** A sink collects one side's rounds: latencies, seconds, errors, each round's p50 and, with a meter, CPU µs per process. */
export function newSink(meter) {
  return { latencies: [], seconds: 0, errors: 0, roundP50s: [], cpu: meter?.empty(), meter };
}

/**
 * Runs `sessions` concurrently for `ms` (closed loop: each sends its next call when the last is answered),
 * collecting latencies into `sink`; with `sink.meter`, the CPU time of the gateway's processes over the round.
 */
export async function round(sessions, tool, ms, sink, log) {
  const before = sink.latencies.length;
  const cpuBefore = sink.meter?.read();
  const end = Date.now() + ms;
  const started = process.hrtime.bigint();
  let errors = 0;
  await Promise.all(
    sessions.map(async (session, w) => {
      let i = 0;
      while (Date.now() < end) {
        try {
          sink.latencies.push(await session.call(tool, `w${w}-${i++}`));
        } catch (error) {
          errors++;
          if (errors <= 3) log?.(`error: ${error.message}`);
        }
      }
    }),
  );
  sink.seconds += Number(process.hrtime.bigint() - started) / 1e9;
  if (sink.meter) sink.meter.add(sink.cpu, cpuBefore, sink.meter.read());
  sink.errors += errors;
  sink.roundP50s.push(percentile(Float64Array.from(sink.latencies.slice(before)).sort(), 50));
}

/** The median of per-round differences `side - baseline` (p50 of each round): robust to one noisy round. */
export function medianRoundDifference(side, baseline) {
  const differences = side.roundP50s.map((p50, i) => p50 - baseline.roundP50s[i]).sort((a, b) => a - b);
  return differences[Math.floor((differences.length - 1) / 2)];
}

export function summarize(sink) {
  const sorted = Float64Array.from(sink.latencies).sort();
  const calls = sorted.length;
  const cpu = sink.cpu ? Object.fromEntries(Object.entries(sink.cpu).map(([name, us]) => [name, us / calls])) : undefined;
  const cpuTotal = cpu ? Object.values(sink.cpu).reduce((a, b) => a + b, 0) / calls : undefined;
  return { calls, errors: sink.errors, p50: percentile(sorted, 50), p99: percentile(sorted, 99), throughput: calls / sink.seconds, cpu, cpuTotal };
}

/** Runs `fn(i)` for i in [0, count) with at most `concurrency` at a time. */
export async function pool(count, concurrency, fn) {
  let next = 0;
  const results = new Array(count);
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await fn(i);
      }
    }),
  );
  return results;
}
