import 'reflect-metadata';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { BusServer, NatsBus } from '#libs/bus';
import { openStores } from '#libs/cache';
import { BusEnv, ConfigError, loadServiceSettings } from '#libs/config';
import { JsonLogger } from '#libs/observability';
import { EdgeEnv } from './config.js';
import { EdgeModule } from './edge.module.js';
import type { EdgeSettings } from './edge-settings.js';
import { HttpErrorFilter } from './http/http-error.filter.js';
import { McpRouter } from './mcp/mcp.router.js';

/** The edge is an HTTP app that also answers on the bus (health pings, later session traffic). */
async function main(): Promise<void> {
  let settings: EdgeSettings;
  try {
    settings = loadServiceSettings({ ...BusEnv, ...EdgeEnv }, process.argv.slice(2), process.env) as EdgeSettings;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`edge: configuration is invalid:\n${error.problems.map((p) => `  ${p}`).join('\n')}\n`);
    process.exit(1);
  }
  const logger = new JsonLogger('edge', settings.env.LOG_LEVEL);
  if (settings.file.ignoredKeys.length) {
    logger.warn(`config keys accepted but not implemented yet: ${settings.file.ignoredKeys.join(', ')}`, 'Main');
  }
  if (!settings.masterKey) logger.warn('no master key configured (MASTER_KEY or general_settings.master_key): admin API is unusable', 'Main');

  const bus = await NatsBus.connect({ url: settings.env.NATS_URL, namespace: settings.env.NATS_NAMESPACE, name: 'edge' });
  const stores = openStores({ redisUrl: settings.env.REDIS_URL, prefix: settings.env.REDIS_PREFIX });
  const app = await NestFactory.create<NestExpressApplication>(EdgeModule.register({ bus, stores, settings }), new ExpressAdapter(), {
    bodyParser: false,
    logger,
  });
  app.disable('x-powered-by');
  app.useGlobalFilters(new HttpErrorFilter());
  app.connectMicroservice({ strategy: new BusServer(bus, 'edge') }, { inheritAppConfig: false });
  await app.startAllMicroservices();
  await app.init();
  // MCP endpoints are routed ahead of Express (the hot path); everything else goes to the Nest app.
  const mcp = app.get(McpRouter);
  const rest = app.getHttpAdapter().getInstance() as (req: IncomingMessage, res: ServerResponse) => void;
  const server = createServer((req, res) => mcp.route(req, res) || rest(req, res));
  server.keepAliveTimeout = 65_000;
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(settings.env.PORT, settings.env.HOST, resolve));
  } catch (error) {
    logger.error(`edge cannot listen on ${settings.env.HOST}:${settings.env.PORT}: ${(error as Error).message}`, 'Main');
    process.exit(1);
  }
  logger.log(`edge listening on http://${settings.env.HOST}:${settings.env.PORT}`, 'Main');

  const stop = async () => {
    server.close();
    server.closeAllConnections();
    await app.close();
    await stores.close();
    await bus.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
