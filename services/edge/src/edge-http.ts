import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { BusServer } from '#libs/bus';
import { renderMetrics, type JsonLogger } from '#libs/observability';
import { required, type RunningService, type ServiceStartContext } from '#libs/runtime';
import { AdminGate } from './admin-api/admin-gate.js';
import { AdminOperations } from './admin-api/admin-operations.js';
import { EdgeModule } from './edge.module.js';
import { startGrpcAdmin, type GrpcAdminServer } from './grpc/grpc-admin.server.js';
import type { EdgeSettings } from './edge-settings.js';
import { HostPolicy } from './http/host.js';
import { HttpErrorFilter } from './http/http-error.filter.js';
import { McpRouter } from './mcp/mcp.router.js';
import { SubscriptionListeners } from './mcp/subscriptions.js';
import { observeRequest } from './http/request-observer.js';

export class EdgeListenError extends Error {}

/**
 * The edge as both hosts start it (its own main.ts and the one-process default): the Nest app with the MCP
 * endpoints routed ahead of Express, its bus handlers, and one HTTP server on HOST:PORT.
 * `close` stops accepting, lets requests in flight finish within the grace period, ends long-lived streams, then
 * tears the app down.
 */
export async function startEdge(context: ServiceStartContext<EdgeSettings['env']>): Promise<RunningService & { server: Server }> {
  const { infrastructure, logger, graceMs } = context;
  const settings = context.settings as EdgeSettings;
  if (settings.file.ignoredKeys.length) {
    logger.warn(`config keys accepted but not implemented yet: ${settings.file.ignoredKeys.join(', ')}`, 'Main');
  }
  if (!settings.masterKey) logger.warn('no master key configured (MASTER_KEY or general_settings.master_key): admin API is unusable', 'Main');

  const module = EdgeModule.register({ bus: infrastructure.bus, stores: required(infrastructure.stores, 'stores'), settings });
  const app = await NestFactory.create<NestExpressApplication>(module, new ExpressAdapter(), { bodyParser: false, logger });
  app.disable('x-powered-by');
  app.useGlobalFilters(new HttpErrorFilter());
  app.connectMicroservice({ strategy: new BusServer(infrastructure.bus, 'edge', graceMs) }, { inheritAppConfig: false });
  await app.startAllMicroservices();
  await app.init();

  const mcp = app.get(McpRouter);
  const rest = app.getHttpAdapter().getInstance() as (req: IncomingMessage, res: ServerResponse) => void;
  const inFlight = new Set<ServerResponse>();
  const hosts = HostPolicy.from([...(settings.file.config.general_settings.allowed_hosts ?? []), ...settings.env.ALLOWED_HOSTS.split(',')], settings.env.HOST);
  const server = createServer((req, res) => {
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    observeRequest(req, res, logger, () => {
      try {
        if (!hosts.admit(req, res)) return; // DNS-rebinding protection, before any route
        if (req.method === 'GET' && req.url === '/metrics') return void serveMetrics(res);
        if (!mcp.route(req, res)) rest(req, res);
      } catch (error) {
        // a bug in routing must cost this request, never the process (and every request in flight with it)
        logger.error(`request ${req.method} ${String(req.url).slice(0, 200)} failed: ${(error as Error).message}`, 'EdgeHttp');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'Internal error', type: 'internal_error', code: 500 } }));
      }
    });
  });
  server.keepAliveTimeout = 65_000;
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(settings.env.PORT, settings.env.HOST, resolve));
  } catch (error) {
    await app.close();
    throw new EdgeListenError(`edge cannot listen on ${settings.env.HOST}:${settings.env.PORT}: ${(error as Error).message}`);
  }
  logger.log(`edge listening on http://${settings.env.HOST}:${settings.env.PORT}; ${hosts.description}`, 'Main');

  // The gRPC admin API beside HTTP (GRPC_PORT): the same admin operations, the edge still the only public listener.
  let grpc: GrpcAdminServer | undefined;
  if (settings.env.GRPC_PORT !== undefined) {
    try {
      grpc = await startGrpcAdmin({ host: settings.env.HOST, port: settings.env.GRPC_PORT, gate: app.get(AdminGate), operations: app.get(AdminOperations), logger });
    } catch (error) {
      server.close();
      await app.close();
      throw new EdgeListenError(`edge cannot serve gRPC on ${settings.env.HOST}:${settings.env.GRPC_PORT}: ${(error as Error).message}`);
    }
  }

  return {
    server,
    close: async () => {
      server.close();
      server.closeIdleConnections();
      app.get(SubscriptionListeners).close(); // listen streams end with their result: clients listen on another replica
      await Promise.all([drain(inFlight, graceMs, logger), grpc?.close(graceMs)]);
      server.closeAllConnections();
      await app.close();
    },
  };
}

/** Waits until the requests in flight are answered (streams that never end are ended by app.close). */
async function drain(inFlight: Set<ServerResponse>, graceMs: number, logger: JsonLogger): Promise<void> {
  const until = Date.now() + graceMs;
  const streaming = (res: ServerResponse) => String(res.getHeader('content-type') ?? '').startsWith('text/event-stream');
  while ([...inFlight].some((res) => !streaming(res)) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  const left = [...inFlight].filter((res) => !streaming(res)).length;
  if (left > 0) logger.warn(`${left} request(s) still in flight after ${graceMs} ms: closing them`, 'Main');
}

/** Prometheus text of this process's metrics (every service's, in the one-process default). */
async function serveMetrics(res: ServerResponse): Promise<void> {
  const { contentType, body } = await renderMetrics();
  res.writeHead(200, { 'content-type': contentType }).end(body);
}
