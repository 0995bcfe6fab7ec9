import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric Switchboard exports, defined once (prom-client), in one registry per process. The Grafana dashboard
 * in deploy/ is built on these names. In the one-process default all five services share the registry; in the
 * distributed suite each process serves its own (METRICS_PORT) and the `service` label tells them apart.
 */
export const metricsRegistry = new Registry();

/** Seconds: from 0.5 ms (an in-process hop) to 30 s (a slow upstream). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export const Metrics = {
  toolCalls: new Counter({
    name: 'switchboard_tool_calls_total',
    help: 'MCP tool calls seen by the edge, by server, tool and outcome (success, error, denied, ...).',
    labelNames: ['server', 'tool', 'outcome'] as const,
    registers: [metricsRegistry],
  }),
  toolCallDuration: new Histogram({
    name: 'switchboard_tool_call_duration_seconds',
    help: 'Tool calls at the edge, from the request to the upstream result, by server and outcome.',
    labelNames: ['server', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [metricsRegistry],
  }),
  httpRequestDuration: new Histogram({
    name: 'switchboard_http_request_duration_seconds',
    help: 'HTTP requests at the edge, by route family, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [metricsRegistry],
  }),
  busRequestDuration: new Histogram({
    name: 'switchboard_bus_request_duration_seconds',
    help: 'Bus calls as the caller sees them, by contract and outcome (ok or the error code).',
    labelNames: ['contract', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [metricsRegistry],
  }),
  upstreamRequestDuration: new Histogram({
    name: 'switchboard_upstream_request_duration_seconds',
    help: 'Requests from a connector to an upstream MCP server, by server, method and outcome.',
    labelNames: ['server', 'method', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [metricsRegistry],
  }),
  errors: new Counter({
    name: 'switchboard_errors_total',
    help: 'Errors answered to clients, by error code (DomainError codes, or HTTP status class).',
    labelNames: ['code'] as const,
    registers: [metricsRegistry],
  }),
  upstreamSessions: new Gauge({
    name: 'switchboard_upstream_sessions',
    help: 'Open upstream MCP sessions held by connectors, by transport.',
    labelNames: ['transport'] as const,
    registers: [metricsRegistry],
  }),
  stdioProcesses: new Gauge({
    name: 'switchboard_stdio_processes',
    help: 'stdio MCP server processes running under connectors.',
    registers: [metricsRegistry],
  }),
  cacheRequests: new Counter({
    name: 'switchboard_cache_requests_total',
    help: 'Lookups in the edge caches (keys, sessions, catalog), by cache and result (hit or miss).',
    labelNames: ['cache', 'result'] as const,
    registers: [metricsRegistry],
  }),
  rateLimitRefusals: new Counter({
    name: 'switchboard_rate_limit_refusals_total',
    help: 'Requests refused by rpm_limit or max_parallel_requests, by limit and level (key, team, organization).',
    labelNames: ['limit', 'level'] as const,
    registers: [metricsRegistry],
  }),
  llmTokens: new Counter({
    name: 'switchboard_llm_tokens_total',
    help: 'LLM tokens through the proxy, by model and kind (prompt or completion).',
    labelNames: ['model', 'kind'] as const,
    registers: [metricsRegistry],
  }),
} as const;

let defaultsOn = false;

const noop = () => undefined;

/**
 * SWITCHBOARD_METRICS=off: every metric of Metrics records nothing (its methods do nothing), so that the bench can
 * measure what recording costs. /metrics then shows only the process metrics.
 */
export function disableMetrics(): void {
  for (const metric of Object.values(Metrics) as unknown as Record<string, unknown>[]) {
    for (const method of ['inc', 'dec', 'set', 'observe', 'reset']) if (typeof metric[method] === 'function') metric[method] = noop;
  }
}

/** Names the process's series (`service` label) and adds Node's process metrics (CPU, memory, event loop). */
export function startProcessMetrics(service: string): void {
  metricsRegistry.setDefaultLabels({ service });
  if (defaultsOn) return;
  defaultsOn = true;
  collectDefaultMetrics({ register: metricsRegistry });
}

/** Functions that set gauges from live state (open sessions, processes) right before each scrape. */
const refreshers = new Set<() => void>();

/** Runs `refresh` before every scrape (to set gauges from state the caller owns); returns the unregistration. */
export function onScrape(refresh: () => void): () => void {
  refreshers.add(refresh);
  return () => refreshers.delete(refresh);
}

/** The Prometheus text exposition of every metric of this process. */
export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  // gauges of live state start from zero each scrape; every owner of such state adds its part
  Metrics.upstreamSessions.reset();
  Metrics.stdioProcesses.set(0);
  for (const refresh of refreshers) refresh();
  return { contentType: metricsRegistry.contentType, body: await metricsRegistry.metrics() };
}

/** Seconds since `startedNs` (process.hrtime.bigint()), for histograms. */
export function secondsSince(startedNs: bigint): number {
  return Number(process.hrtime.bigint() - startedNs) / 1e9;
}
