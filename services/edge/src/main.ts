import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { BusClient, BusServer, RpcErrorFilter } from '#libs/bus';
import { createRedis } from '#libs/cache';
import { BusEnv, ConfigError, loadServiceSettings } from '#libs/config';
import { JsonLogger } from '#libs/observability';
import { EdgeEnv } from './config.js';
import { EdgeModule } from './edge.module.js';
import type { EdgeSettings } from './edge-settings.js';
import { HttpErrorFilter } from './http/http-error.filter.js';

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

  const bus = await BusClient.connect({ url: settings.env.NATS_URL, namespace: settings.env.NATS_NAMESPACE, name: 'edge' });
  const redis = createRedis(settings.env.REDIS_URL, settings.env.REDIS_PREFIX);
  const app = await NestFactory.create<NestExpressApplication>(EdgeModule.register({ bus, redis, settings }), new ExpressAdapter(), {
    bodyParser: false,
    logger,
  });
  app.disable('x-powered-by');
  app.useGlobalFilters(new HttpErrorFilter());
  const rpc = app.connectMicroservice({ strategy: new BusServer(bus, 'edge') }, { inheritAppConfig: false });
  rpc.useGlobalFilters(new RpcErrorFilter());
  await app.startAllMicroservices();
  try {
    await app.listen(settings.env.PORT, settings.env.HOST);
  } catch (error) {
    logger.error(`edge cannot listen on ${settings.env.HOST}:${settings.env.PORT}: ${(error as Error).message}`, 'Main');
    process.exit(1);
  }
  logger.log(`edge listening on http://${settings.env.HOST}:${settings.env.PORT}`, 'Main');

  const stop = async () => {
    await app.close();
    redis.disconnect();
    await bus.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
