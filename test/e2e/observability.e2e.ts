import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MODES,
  api,
  awayFromMinuteEdge,
  connectClient,
  eventually,
  freePort,
  generateKey,
  printLogsOnFailure,
  rawInitialize,
  rawPost,
  request,
  startCountingServer,
  startSuite,
  textOf,
  toolNames,
  type CountingServer,
  type Suite,
} from './support/index.js';

// Issue 12, done means 1-3: a trace across edge -> bus -> connector -> upstream read from an OTLP receiver,
// /metrics with the call counters and histograms, and logs that carry no secret and one access line a request.

const UPSTREAM_SECRET = 'upstream-bearer-secret-0b5e7';
const SPAN_KIND = { SERVER: 2, CLIENT: 3 } as const;

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  service: string;
}

/** An OTLP/HTTP (JSON) trace receiver: what every process of the gateway exports. */
async function startOtlpReceiver(): Promise<{ url: string; spans: OtlpSpan[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: Omit<OtlpSpan, 'service'>[] }[] }[];
        };
        for (const rs of body.resourceSpans ?? []) {
          const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const ss of rs.scopeSpans ?? []) for (const span of ss.spans ?? []) spans.push({ ...span, service });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The value of one series in Prometheus text (labels given as a subset), or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    const found = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe.each(MODES)('observability (%s)', (mode) => {
  let suite: Suite | undefined;
  let upstream: CountingServer;
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let key: string;
  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    otlp = await startOtlpReceiver();
    upstream = await startCountingServer();
    suite = await startSuite({
      mode,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url },
      config: { mcp_servers: { obs: { url: upstream.url, transport: 'http', auth_type: 'bearer_token', auth_value: UPSTREAM_SECRET } } },
    });
    ({ key } = await generateKey(suite, { key_alias: 'obs-key', rpm_limit: 1000, object_permission: { mcp_servers: ['obs'] } }));
  });

  afterAll(async () => {
    await suite?.stop();
    await upstream?.stop();
    await otlp?.close();
  });

  it('exports one trace from the HTTP request through the bus and the connector to the upstream call', async () => {
    const base = suite!.edgeUrls[0]!;
    const { sessionId } = await rawInitialize(`${base}/mcp`, key);
    const reply = await rawPost(`${base}/mcp`, request('tools/call', { name: 'obs-echo', arguments: { text: 'traced' } }), {
      key,
      sessionId,
      protocolVersion: '2025-11-25',
      headers: { 'x-request-id': `trace-${mode}` },
    });
    expect(textOf(reply.message.result)).toContain('traced');

    // every process exports on its own schedule: wait until the upstream call's span links up to a root span
    const chain = await eventually(() => {
      const upstreamSpan = otlp.spans.find((s) => s.name === 'upstream tools/call');
      if (!upstreamSpan) return undefined;
      const byId = new Map(otlp.spans.filter((s) => s.traceId === upstreamSpan.traceId).map((s) => [s.spanId, s]));
      const links: OtlpSpan[] = [upstreamSpan];
      for (let span = upstreamSpan; span.parentSpanId; ) {
        const parent = byId.get(span.parentSpanId);
        if (!parent) return undefined;
        links.push((span = parent));
      }
      return links;
    }, 20_000, 200);
    const upstreamSpan = chain[0]!;
    const root = chain.at(-1)!;
    expect(root).toMatchObject({ name: 'POST /mcp', kind: SPAN_KIND.SERVER });
    expect(upstreamSpan.kind).toBe(SPAN_KIND.CLIENT);
    expect(chain.some((s) => s.kind === SPAN_KIND.CLIENT && s.name.startsWith('bus '))).toBe(true);
    expect(chain.some((s) => s.kind === SPAN_KIND.SERVER && s.name.startsWith('serve '))).toBe(true);
    if (mode === 'distributed') expect(new Set(chain.map((s) => s.service))).toEqual(new Set(['edge', 'connector']));
    // the request id the client chose is the one in the logs of that request
    expect(suite!.logs()).toMatch(new RegExp(`"request_id":"trace-${mode}"`));
  });

  it('counts tool calls and times them at /metrics', async () => {
    const base = suite!.edgeUrls[0]!;
    const client = await connectClient(`${base}/mcp`, key);
    await eventually(async () => (await toolNames(client)).includes('obs-echo'), 10_000);
    const before = await (await fetch(`${base}/metrics`)).text();
    const seen = sample(before, 'switchboard_tool_calls_total', { server: 'obs', tool: 'echo', outcome: 'success' }) ?? 0;
    for (let i = 0; i < 3; i++) expect(textOf(await client.callTool({ name: 'obs-echo', arguments: { text: `m${i}` } }))).toContain(`m${i}`);
    await client.callTool({ name: 'obs-fail', arguments: {} });
    await client.close();

    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    const service = mode === 'distributed' ? 'edge' : 'switchboard';
    expect(sample(text, 'switchboard_tool_calls_total', { server: 'obs', tool: 'echo', outcome: 'success', service })).toBe(seen + 3);
    expect(sample(text, 'switchboard_tool_calls_total', { server: 'obs', tool: 'fail', outcome: 'error' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'switchboard_tool_call_duration_seconds_count', { server: 'obs', outcome: 'success' })).toBeGreaterThanOrEqual(seen + 3);
    expect(sample(text, 'switchboard_http_request_duration_seconds_count', { route: '/mcp', method: 'POST', status: '200' })).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'switchboard_bus_request_duration_seconds_bucket', { le: '+Inf' })).toBeGreaterThan(0);
    expect(sample(text, 'switchboard_cache_requests_total', { cache: 'keys', result: 'hit' })).toBeGreaterThan(0);
    if (mode === 'one-process') {
      // one registry for all five services: the connector's side is here too
      expect(sample(text, 'switchboard_upstream_request_duration_seconds_count', { server: 'obs', method: 'tools/call', outcome: 'ok' })).toBeGreaterThanOrEqual(3);
      expect(sample(text, 'switchboard_upstream_sessions', { transport: 'http' })).toBeGreaterThanOrEqual(1);
    }
  });

  it('counts rate-limit refusals', async () => {
    await awayFromMinuteEdge();
    const { key: limited } = await generateKey(suite!, { key_alias: 'obs-limited', rpm_limit: 1, object_permission: { mcp_servers: ['obs'] } });
    const base = suite!.edgeUrls[0]!;
    await api(base, limited, '/mcp-rest/tools/list');
    const refused = await fetch(`${base}/mcp-rest/tools/list`, { headers: { 'x-litellm-api-key': `Bearer ${limited}` } });
    expect(refused.status).toBe(429);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(sample(text, 'switchboard_rate_limit_refusals_total', { limit: 'rpm_limit', level: 'key' })).toBeGreaterThanOrEqual(1);
  });

  it('logs one access line per request, with the key alias, and never a key or an upstream secret', async () => {
    const base = suite!.edgeUrls[0]!;
    const ids = ['acc-1', 'acc-2', 'acc-3'].map((id) => `${id}-${mode}`);
    for (const id of ids) await fetch(`${base}/mcp-rest/tools/list`, { headers: { 'x-litellm-api-key': `Bearer ${key}`, 'x-request-id': id } });
    // a wrong key that looks like one, and a bearer header: both must be redacted wherever they are echoed
    await fetch(`${base}/mcp-rest/tools/list`, { headers: { authorization: 'Bearer sk-not-a-real-key-123456', 'x-request-id': `acc-bad-${mode}` } });
    const lines = await eventually(() => {
      const access = suite!.logs().split('\n').filter((l) => l.includes('"access":true'));
      return ids.every((id) => access.some((l) => l.includes(`"request_id":"${id}"`))) && access;
    });
    for (const id of ids) {
      const mine = lines.filter((l) => l.includes(`"request_id":"${id}"`));
      expect(mine, id).toHaveLength(1);
      expect(JSON.parse(mine[0]!.slice(mine[0]!.indexOf('{')))).toMatchObject({ method: 'GET', path: '/mcp-rest/tools/list', status: 200, key_alias: 'obs-key' });
    }
    const all = suite!.logs();
    for (const secret of [key, suite!.masterKey, UPSTREAM_SECRET, 'sk-not-a-real-key-123456']) expect(all.includes(secret), `a log line contains ${secret.slice(0, 6)}…`).toBe(false);
  });
});
