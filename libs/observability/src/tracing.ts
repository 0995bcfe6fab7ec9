import { context, createContextKey, INVALID_SPAN_CONTEXT, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';

export { SpanKind, SpanStatusCode, type Span };

const REQUEST_ID = createContextKey('switchboard.request_id');
const tracer = () => trace.getTracer('switchboard');

export interface TracingOptions {
  service: string;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: spans are exported (OTLP over HTTP) only when it is set. */
  endpoint?: string;
  /** Record spans even without an exporter (SWITCHBOARD_TRACING=on), e.g. to measure their cost. */
  enabled: boolean;
}

let started: { shutdown(): Promise<void> } | undefined;
/**
 * True once a tracer provider records spans. Without one (the default) no span is made at all: a call's hops only
 * carry the context they were given (request id, a client's traceparent), which costs one context switch, not a
 * span object and a context per hop.
 */
let recording = false;
const NOT_RECORDING: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Sets up this process's context propagation (always: request ids reach logs through it) and, when enabled or an
 * endpoint is set, a tracer provider. Nothing is exported unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
 */
export function startTracing(options: TracingOptions): { shutdown(): Promise<void> } {
  if (started) return started;
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  if (!options.enabled && !options.endpoint) {
    started = { shutdown: async () => undefined };
    return started;
  }
  const spanProcessors: SpanProcessor[] = options.endpoint ? [new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(options.endpoint) }))] : [];
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': options.service }), spanProcessors });
  trace.setGlobalTracerProvider(provider);
  recording = true;
  started = { shutdown: () => provider.shutdown() };
  return started;
}

/** The standard variable names the base URL; the traces path is added as the OTLP/HTTP exporter's spec says. */
function tracesUrl(endpoint: string): string {
  return endpoint.endsWith('/v1/traces') ? endpoint : `${endpoint.replace(/\/$/, '')}/v1/traces`;
}

/** Runs `fn` inside a new span, ending it with the outcome (an exception marks it as an error). */
export async function inSpan<T>(name: string, kind: SpanKind, attributes: Record<string, string | number | boolean>, fn: (span: Span) => Promise<T>, parent?: Context): Promise<T> {
  if (!recording) return parent ? context.with(parent, fn, undefined, NOT_RECORDING) : fn(NOT_RECORDING);
  const span = tracer().startSpan(name, { kind, attributes }, parent ?? context.active());
  return context.with(trace.setSpan(parent ?? context.active(), span), async () => {
    try {
      return await fn(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Starts a span under `parent` for work that ends in a callback (an HTTP response); end it yourself. */
export function startSpan(name: string, kind: SpanKind, attributes: Record<string, string | number | boolean>, parent: Context): { span: Span; context: Context } {
  if (!recording) return { span: NOT_RECORDING, context: parent };
  const span = tracer().startSpan(name, { kind, attributes }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Runs `fn` with `ctx` active (its span, request id) for everything `fn` starts, callbacks included. */
export function runInContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}

/** Runs `fn` outside any request (no span, no request id): work of the process's own, started from a request's callback. */
export function runDetached<T>(fn: () => T): T {
  return context.with(ROOT_CONTEXT, fn);
}

/** The W3C traceparent of the active span, to carry across the bus (undefined when there is none). */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** The context a traceparent (from a bus request or an HTTP header) continues, with the request id if any. */
export function remoteContext(traceparent: string | undefined, requestId: string | undefined): Context {
  let ctx = context.active();
  if (traceparent) ctx = propagation.extract(ctx, { traceparent });
  if (requestId) ctx = ctx.setValue(REQUEST_ID, requestId);
  return ctx;
}

/** The request id of the active context (set at the edge per HTTP request, carried across the bus). */
export function currentRequestId(): string | undefined {
  return context.active().getValue(REQUEST_ID) as string | undefined;
}

/** Trace and span ids of the active span, for log lines. */
export function currentTraceIds(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getActiveSpan();
  if (!span) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  return traceFlags || span.isRecording() ? { trace_id: traceId, span_id: spanId } : undefined;
}
