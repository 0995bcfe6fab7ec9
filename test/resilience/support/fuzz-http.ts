/**
 * Raw HTTP for the fuzzers: any method, path, header value (Latin-1) and body bytes, with a timeout; a response
 * that turns into a stream (SSE) is closed once its head has arrived. Also the bookkeeping of one fuzz target.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';

export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body (the first 8 MiB), empty for a stream. */
  text: string;
  stream: boolean;
  ms: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** One request to `base` (http://127.0.0.1:port); rejects on a network error or after `timeoutMs` (a hung request). */
export function send(base: string, request: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
  const url = new URL(base);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: request.method, path: request.path, headers: request.headers, agent, timeout: timeoutMs },
      (res) => {
        const stream = String(res.headers['content-type'] ?? '').includes('text/event-stream') && !String(res.headers['content-length'] ?? '');
        if (stream) {
          // a stream stays open (GET /mcp, subscriptions/listen, a call streaming progress): its head is the answer
          res.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: '', stream: true, ms: Date.now() - started });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < 8 * 1024 * 1024) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), stream: false, ms: Date.now() - started }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(request.body);
  });
}

/** The resident set size of a process, in MiB. */
export function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))!;
  return Number(/(\d+)/.exec(line)![1]) / 1024;
}

/** What one fuzz target found. */
export class FuzzTally {
  tried = 0;
  fiveHundreds = 0;
  /** 5xx that an upstream's failure explains (allowed). */
  upstream5xx = 0;
  hung = 0;
  crashes = 0;
  statuses = new Map<number, number>();
  examples: string[] = [];
  rss = { start: 0, peak: 0, end: 0 };
  private sampler: NodeJS.Timeout | undefined;

  constructor(readonly target: string) {}

  /** Samples the RSS of `pid` every 250 ms until `stop`. */
  watch(pid: number): void {
    this.rss.start = this.rss.peak = rssMiB(pid);
    this.sampler = setInterval(() => {
      try {
        this.rss.peak = Math.max(this.rss.peak, rssMiB(pid));
      } catch {
        // the process is gone: counted as a crash by the caller
      }
    }, 250);
  }

  stop(pid: number): void {
    clearInterval(this.sampler);
    try {
      this.rss.end = rssMiB(pid);
    } catch {
      this.rss.end = NaN;
    }
  }

  /** Records one outcome; `allowed5xx` says whether a 5xx is explained by an upstream that failed. */
  record(input: unknown, outcome: RawResponse | Error, allowed5xx = false): void {
    this.tried++;
    if (outcome instanceof Error) {
      this.hung++;
      this.example(`no answer (${outcome.message})`, input);
      return;
    }
    this.statuses.set(outcome.status, (this.statuses.get(outcome.status) ?? 0) + 1);
    if (outcome.status >= 500) {
      if (allowed5xx) this.upstream5xx++;
      else {
        this.fiveHundreds++;
        this.example(`${outcome.status} ${outcome.text.slice(0, 300)}`, input);
      }
    }
  }

  example(what: string, input: unknown): void {
    if (this.examples.length < 5) this.examples.push(`${what}\n      input: ${describe(input).slice(0, 600)}`);
  }

  line(): string {
    const statuses = [...this.statuses.entries()]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}:${n}`)
      .join(' ');
    return (
      `${this.target.padEnd(34)} ${String(this.tried).padStart(7)}  ${String(this.crashes).padStart(7)}  ${String(this.fiveHundreds).padStart(14)}  ${String(this.hung).padStart(4)}  ` +
      `${this.rss.start.toFixed(0)}/${this.rss.peak.toFixed(0)}/${this.rss.end.toFixed(0)} MiB  [${statuses}]`
    );
  }
}

export function printTallies(title: string, tallies: FuzzTally[]): void {
  const lines = [`\n${title}`, `${'target'.padEnd(34)} ${'inputs'.padStart(7)}  ${'crashes'.padStart(7)}  ${'unexpected 5xx'.padStart(14)}  hung  edge RSS start/peak/end  [statuses]`];
  for (const t of tallies) {
    lines.push(t.line());
    for (const e of t.examples) lines.push(`    ${e}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function describe(input: unknown): string {
  return JSON.stringify(input, (_k, v: unknown) => {
    if (v instanceof Uint8Array || Buffer.isBuffer(v)) return `<${v.length} bytes: ${Buffer.from(v).toString('latin1').slice(0, 120)}>`;
    if (typeof v === 'string' && v.length > 200) return `${v.slice(0, 200)}…(${v.length} chars)`;
    return v;
  });
}
