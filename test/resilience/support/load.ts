/**
 * A steady load of tool calls against the gateway's edges, recorded call by call, for the fault tests.
 *
 * Clients of both protocol eras:
 *   - `session`: the official SDK client, a 2025-11-25 session, no client capabilities (the connectors' pooled
 *     upstream sessions);
 *   - `sampling`: the same declaring sampling, so it gets an upstream session of its own; every few calls it calls
 *     a tool that asks it for a sample, answered after a short delay (so requests are pending at any moment);
 *   - `modern`: raw 2026-07-28 stateless requests (no session); some declare sampling and answer the
 *     `input_required` of the tool that asks, retrying on another edge with the sealed requestState;
 *   - `reader`: a 2025 session getting a prompt (a read the gateway may send again when its connector dies).
 * Every call carries a fresh id the upstream fixture counts under, so a call that ran twice is seen.
 *
 * Requests go through `balancer`, as a load balancer would send them: round robin over the edges, and to the next
 * edge when one refuses the connection (nothing was sent: safe). A connection cut after the request was sent is
 * the call's failure; the client does not send it again.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { randomBytes } from 'node:crypto';

export type ClientKind = 'session' | 'sampling' | 'modern' | 'modern-sampling' | 'reader';

export interface CallRecord {
  kind: ClientKind;
  client: string;
  /** The id the upstream counts this call under. */
  id: string;
  tool: string;
  start: number;
  /** 0 while the call is in flight. */
  end: number;
  ok: boolean;
  error?: string;
}

export interface LoadOptions {
  /** The edges' base URLs; read on every request (an edge started later is used once it is listed). */
  edges: () => string[];
  key: string;
  /** Aggregate tool names: `{server}-work` and `{server}-ask` of the resilience upstream. */
  server: string;
  clients: Partial<Record<ClientKind, number>>;
  /** Pause between one client's calls (ms). */
  pauseMs: number;
  /** A call not answered within this is a failure (and a stuck call). */
  callTimeoutMs?: number;
  /** How long the client takes to answer a sampling request (ms). */
  sampleDelayMs?: number;
  /** Every n-th call of a sampling client asks for a sample. */
  askEvery?: number;
  /** How long the upstream works on each `work` call: a random duration in this range (ms), so calls are in flight. */
  workMs?: [number, number];
}

const MODERN = '2026-07-28';
const VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';
const CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';
const runId = randomBytes(3).toString('hex');
let seq = 0;
const nextId = (client: string) => `${runId}-${client}-${++seq}`;

/** Connection refused: the edge is not there, nothing was sent, another edge may take the request. */
function refused(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string } })?.cause;
  return cause?.code === 'ECONNREFUSED';
}

/** A fetch spreading requests over the edges (round robin), skipping edges that refuse connections. */
export function balancer(edges: () => string[]): typeof fetch {
  let turn = 0;
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const list = edges();
    const start = turn++;
    let last: unknown;
    for (let i = 0; i < list.length; i++) {
      const base = new URL(list[(start + i) % list.length]!);
      const target = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      target.host = base.host;
      try {
        return await fetch(target, init);
      } catch (error) {
        last = error;
        if (!refused(error)) throw error;
      }
    }
    throw last;
  }) as typeof fetch;
}

function errorText(error: unknown): string {
  const e = error as { message?: string; cause?: { code?: string; message?: string } };
  return `${e?.message ?? String(error)}${e?.cause ? ` (${e.cause.code ?? e.cause.message})` : ''}`;
}

function resultText(result: unknown): string {
  return ((result as { content?: { type: string; text?: string }[] })?.content ?? []).map((c) => c.text ?? '').join('');
}

export class Load {
  readonly records: CallRecord[] = [];
  private running = false;
  private readonly workers: Promise<void>[] = [];
  private readonly sdkClients: Client[] = [];
  private readonly fetcher: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly options: LoadOptions) {
    this.fetcher = balancer(options.edges);
    this.timeoutMs = options.callTimeoutMs ?? 15_000;
  }

  /** Connects the session clients, then starts every client's loop. */
  async start(): Promise<void> {
    this.running = true;
    const { clients } = this.options;
    const starts: Promise<void>[] = [];
    for (const kind of ['session', 'sampling', 'modern', 'modern-sampling', 'reader'] as const) {
      for (let i = 0; i < (clients[kind] ?? 0); i++) {
        const name = `${kind}${i}`;
        if (kind === 'session' || kind === 'sampling' || kind === 'reader') starts.push(this.connect(name, kind === 'sampling').then((client) => void this.workers.push(this.loop(name, kind, client))));
        else this.workers.push(this.loop(name, kind, undefined));
      }
    }
    await Promise.all(starts);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
    await Promise.all(this.sdkClients.map((c) => c.close().catch(() => undefined)));
  }

  /** One more call from every client (after the faults): a client whose session is stuck fails here. */
  async probeEveryClient(): Promise<{ client: string; ok: boolean; error?: string }[]> {
    const out: { client: string; ok: boolean; error?: string }[] = [];
    await Promise.all(
      this.sdkClients.map(async (client, i) => {
        const record = await this.sessionCall({ kind: 'session', client: `probe${i}`, id: nextId(`probe${i}`), tool: 'work', start: Date.now(), end: 0, ok: false }, client);
        out.push({ client: `sdk${i}`, ok: record.ok, ...(record.error ? { error: record.error } : {}) });
      }),
    );
    return out;
  }

  /** Resolves once no call started in [from, to] is in flight any more. */
  async settled(from: number, to: number): Promise<void> {
    const deadline = Date.now() + this.timeoutMs + 5_000;
    while (this.records.some((r) => r.end === 0 && r.start >= from && r.start <= to)) {
      if (Date.now() > deadline) throw new Error('calls still in flight past their timeout');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async connect(name: string, sampling: boolean): Promise<Client> {
    const client = new Client({ name: `resilience-${name}`, version: '1.0.0' }, { capabilities: sampling ? { sampling: {} } : {} });
    if (sampling) {
      client.setRequestHandler(CreateMessageRequestSchema, async () => {
        await new Promise((r) => setTimeout(r, this.options.sampleDelayMs ?? 100));
        return { model: 'resilience', role: 'assistant', content: { type: 'text', text: `from ${name}` } };
      });
    }
    client.onerror = () => undefined; // the GET stream reconnecting after an edge went away
    const transport = new StreamableHTTPClientTransport(new URL(`${this.options.edges()[0]}/mcp`), {
      requestInit: { headers: { 'x-litellm-api-key': `Bearer ${this.options.key}` } },
      fetch: this.fetcher,
      reconnectionOptions: { initialReconnectionDelay: 100, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1.5, maxRetries: 1000 },
    });
    await client.connect(transport);
    this.sdkClients.push(client);
    return client;
  }

  private async loop(name: string, kind: ClientKind, client: Client | undefined): Promise<void> {
    let n = 0;
    while (this.running) {
      n++;
      const ask = (kind === 'sampling' || kind === 'modern-sampling') && n % (this.options.askEvery ?? 4) === 0;
      const tool = kind === 'reader' ? 'greet' : ask ? 'ask' : 'work';
      // recorded when it starts: a call still in flight is seen (and waited for) by the figures
      const record: CallRecord = { kind, client: name, id: nextId(name), tool, start: Date.now(), end: 0, ok: false };
      this.records.push(record);
      Object.assign(record, client ? await this.sessionCall(record, client) : await this.modernCall(record));
      if (this.options.pauseMs > 0) await new Promise((r) => setTimeout(r, this.options.pauseMs));
    }
  }

  private args(id: string, tool: string): Record<string, unknown> {
    const [min, max] = this.options.workMs ?? [0, 0];
    return tool === 'work' && max > 0 ? { id, ms: Math.round(min + Math.random() * (max - min)) } : { id };
  }

  private async sessionCall(record: CallRecord, client: Client): Promise<CallRecord> {
    const { id, tool } = record;
    if (tool === 'greet') return this.readCall(record, client);
    try {
      const result = await client.callTool({ name: `${this.options.server}-${tool}`, arguments: this.args(id, tool) }, undefined, { timeout: this.timeoutMs });
      const ok = !result.isError && /^(done|sampled) /.test(resultText(result));
      return { ...record, end: Date.now(), ok, ...(ok ? {} : { error: resultText(result).slice(0, 300) }) };
    } catch (error) {
      return { ...record, end: Date.now(), ok: false, error: errorText(error).slice(0, 300) };
    }
  }

  /** prompts/get of the counting prompt: a read. */
  private async readCall(record: CallRecord, client: Client): Promise<CallRecord> {
    const [min, max] = this.options.workMs ?? [0, 0];
    try {
      const result = await client.getPrompt(
        { name: `${this.options.server}-greet`, arguments: { id: record.id, ms: String(Math.round(min + Math.random() * (max - min))) } },
        { timeout: this.timeoutMs },
      );
      const text = (result.messages[0]?.content as { text?: string } | undefined)?.text ?? '';
      const ok = text === `hello ${record.id}`;
      return { ...record, end: Date.now(), ok, ...(ok ? {} : { error: text.slice(0, 300) }) };
    } catch (error) {
      return { ...record, end: Date.now(), ok: false, error: errorText(error).slice(0, 300) };
    }
  }

  /** A 2026-07-28 tools/call; `ask` comes back input_required and is answered and retried (on another edge). */
  private async modernCall(record: CallRecord): Promise<CallRecord> {
    const { id, tool, kind, client: name } = record;
    const capabilities = kind === 'modern-sampling' ? { sampling: {} } : {};
    try {
      let params: Record<string, unknown> = { name: `${this.options.server}-${tool}`, arguments: this.args(id, tool) };
      for (let round = 0; round < 5; round++) {
        const reply = await this.modernPost(params, capabilities);
        if (reply.error) throw new Error(`JSON-RPC ${reply.error.code}: ${reply.error.message}`);
        const result = reply.result ?? {};
        if (result.resultType === 'input_required') {
          await new Promise((r) => setTimeout(r, this.options.sampleDelayMs ?? 100));
          const inputResponses = Object.fromEntries(
            Object.keys(result.inputRequests ?? {}).map((key) => [key, { model: 'resilience', role: 'assistant', content: { type: 'text', text: `from ${name}` } }]),
          );
          params = { name: params.name, arguments: params.arguments, inputResponses, requestState: result.requestState };
          continue;
        }
        const ok = !result.isError && /^(done|sampled) /.test(resultText(result));
        return { ...record, end: Date.now(), ok, ...(ok ? {} : { error: resultText(result).slice(0, 300) }) };
      }
      throw new Error('too many input_required rounds');
    } catch (error) {
      return { ...record, end: Date.now(), ok: false, error: errorText(error).slice(0, 300) };
    }
  }

  private async modernPost(params: Record<string, unknown>, capabilities: Record<string, unknown>): Promise<{ result?: any; error?: { code: number; message: string } }> {
    const body = { jsonrpc: '2.0', id: ++seq, method: 'tools/call', params: { ...params, _meta: { [VERSION_KEY]: MODERN, [CAPABILITIES_KEY]: capabilities } } };
    const response = await this.fetcher(`${this.options.edges()[0]}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'x-litellm-api-key': `Bearer ${this.options.key}`,
        'mcp-protocol-version': MODERN,
        'mcp-method': 'tools/call',
        'mcp-name': String(params.name),
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await response.text();
    if (!(response.headers.get('content-type') ?? '').includes('json') && !text.startsWith('{')) {
      // an SSE-framed reply: the last data line is the reply
      const data = text
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => JSON.parse(l.slice(5)));
      return data.find((m) => m.id === body.id) ?? { error: { code: response.status, message: text.slice(0, 200) } };
    }
    try {
      return JSON.parse(text);
    } catch {
      return { error: { code: response.status, message: text.slice(0, 200) } };
    }
  }
}

export interface FaultFigures {
  fault: string;
  /** Calls started in the 10 s window around the fault (5 s either side). */
  issued: number;
  failed: number;
  /** Of those: calls that were in flight when the fault struck (started before it). */
  failedInFlight: number;
  /** Tool calls of the window the upstream ran more than once (target 0). */
  executedTwice: number;
  /** Reads of the window the gateway sent again after their connector died (allowed: a read changes nothing). */
  readsRepeated: number;
  /**
   * From the fault (or the broker's return, for a restart) until calls started from then on all succeed; -1 when
   * they never did within the window.
   */
  recoveryMs: number;
  /** The longest a failed call waited for its failure (from the fault, for calls in flight then): no call hangs. */
  slowestFailureMs: number;
  errors: string[];
}

/**
 * The figures of one fault: `at` is when it struck, `backAt` when a stopped broker was started again (recovery
 * counts from there; for a kill it is `at`), `runs` how often the upstream ran a call id.
 */
export function faultFigures(fault: string, records: CallRecord[], at: number, backAt: number, runs: (id: string) => number, windowMs = 10_000): FaultFigures {
  const from = at - windowMs / 2;
  const to = backAt + windowMs / 2;
  const inWindow = records.filter((r) => r.start >= from && r.start <= to).sort((a, b) => a.start - b.start);
  const failed = inWindow.filter((r) => !r.ok);
  const lastFailure = failed.filter((r) => r.start >= backAt).at(-1);
  let recoveryMs = 0;
  if (lastFailure) {
    const after = inWindow.find((r) => r.start > lastFailure.start && r.ok);
    recoveryMs = after ? after.start - backAt : -1;
  }
  return {
    fault,
    issued: inWindow.length,
    failed: failed.length,
    failedInFlight: failed.filter((r) => r.start < at && (r.end === 0 || r.end >= at)).length,
    executedTwice: inWindow.filter((r) => r.tool !== 'greet' && runs(r.id) > 1).length,
    readsRepeated: inWindow.filter((r) => r.tool === 'greet' && runs(`read:${r.id}`) > 1).length,
    recoveryMs,
    slowestFailureMs: Math.max(0, ...failed.map((r) => (r.end || Date.now()) - Math.max(r.start, at))),
    errors: [...new Set(failed.map((r) => `${r.kind}/${r.tool}: ${r.error}`))].slice(0, 8),
  };
}

export function printFigures(title: string, rows: FaultFigures[]): void {
  const lines = [`\n${title}`, 'fault                          issued  failed (in flight)  failed%  executed-twice  reads-sent-again  recovery-ms  slowest-failure-ms'];
  for (const r of rows) {
    const pct = r.issued ? ((100 * r.failed) / r.issued).toFixed(2) : '0.00';
    lines.push(`${r.fault.padEnd(30)} ${String(r.issued).padStart(6)}  ${String(r.failed).padStart(6)} ${`(${r.failedInFlight})`.padStart(11)}  ${pct.padStart(7)}  ${String(r.executedTwice).padStart(14)}  ${String(r.readsRepeated).padStart(16)}  ${String(r.recoveryMs).padStart(11)}  ${String(r.slowestFailureMs).padStart(18)}`);
    for (const e of r.errors) lines.push(`    ${e}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
