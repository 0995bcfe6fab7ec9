import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '#libs/contracts';
import { Metrics, remoteContext, runInContext, SpanKind, SpanStatusCode, startSpan, type JsonLogger } from '#libs/observability';

/** Who made each request, noted where keys are verified, read once the response is done (never the key). */
const callers = new WeakMap<IncomingHttpHeaders, string>();

export function noteCaller(headers: IncomingHttpHeaders, principal: Principal): void {
  callers.set(headers, principal.key_alias ?? (principal.token_hash ? `key ${principal.token_hash.slice(0, 8)}` : 'unnamed key'));
}

/** A low-cardinality name for the metrics label: the endpoint family, never ids or server names. */
export function routeFamily(path: string): string {
  if (/^\/(mcp(\/|$)|[^/]+\/mcp\/?$)/.test(path)) return '/mcp';
  for (const prefix of ['/mcp-rest', '/v1', '/health', '/ui', '/sse', '/messages', '/metrics']) if (path === prefix || path.startsWith(`${prefix}/`)) return prefix;
  if (/^\/(key|team|organization)\//.test(path)) return '/admin';
  return 'other';
}

const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/**
 * Wraps one HTTP request at the edge: a request id (the client's `x-request-id`, else a new one, echoed back), a
 * server span continuing the client's `traceparent`, the duration histogram and one access-log line when the
 * response is done: method, path, status, duration, key alias. `handle` runs inside the span's context, so bus
 * calls it makes carry the trace and the request id.
 */
export function observeRequest(req: IncomingMessage, res: ServerResponse, logger: JsonLogger, handle: () => void): void {
  const started = process.hrtime.bigint();
  const requestId = single(req.headers['x-request-id'])?.slice(0, 128) || randomUUID();
  res.setHeader('x-request-id', requestId);
  const method = req.method ?? 'GET';
  const path = (req.url ?? '/').split('?')[0]!;
  const route = routeFamily(path);
  const { span, context } = startSpan(`${method} ${route}`, SpanKind.SERVER, { 'http.request.method': method, 'url.path': path, 'http.route': route }, remoteContext(single(req.headers.traceparent), requestId));
  res.once('close', () => {
    const status = res.statusCode;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    span.setAttribute('http.response.status_code', status);
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    Metrics.httpRequestDuration.observe({ route, method, status: String(status) }, seconds);
    if (status >= 400) Metrics.errors.inc({ code: `HTTP_${Math.floor(status / 100)}XX` });
    const caller = callers.get(req.headers) ?? null;
    runInContext(context, () =>
      logger.entry('info', { access: true, method, path, status, duration_ms: Math.round(seconds * 10_000) / 10, key_alias: caller }, `${method} ${path} ${status}`),
    );
  });
  runInContext(context, handle);
}
