import { createServer, type Server } from 'node:http';
import { disableMetrics, renderMetrics, startProcessMetrics, startTracing, type JsonLogger } from '#libs/observability';

export interface ObservabilityEnv {
  METRICS_PORT?: number;
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  SWITCHBOARD_TRACING: 'on' | 'off';
  SWITCHBOARD_METRICS: 'on' | 'off';
}

/**
 * This process's metrics, traces and (with METRICS_PORT) a small HTTP listener for Prometheus and probes:
 * `GET /metrics`, `GET /health/liveliness`. Returns what stops them.
 */
export async function startObservability(env: ObservabilityEnv, service: string, logger: JsonLogger): Promise<() => Promise<void>> {
  startProcessMetrics(service);
  if (env.SWITCHBOARD_METRICS === 'off') disableMetrics();
  const tracing = startTracing({ service, endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT, enabled: env.SWITCHBOARD_TRACING === 'on' });
  let server: Server | undefined;
  if (env.METRICS_PORT !== undefined) {
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && path === '/metrics') {
        void renderMetrics().then(({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body));
      } else if (req.method === 'GET' && path === '/health/liveliness') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end("I'm alive!");
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: this port serves /metrics and /health/liveliness');
      }
    });
    const listening = server;
    await new Promise<void>((resolve, reject) => listening.once('error', reject).listen(env.METRICS_PORT, resolve));
    logger.log(`metrics on http://0.0.0.0:${env.METRICS_PORT}/metrics`, 'Main');
  }
  return async () => {
    server?.close();
    await tracing.shutdown().catch(() => undefined);
  };
}
