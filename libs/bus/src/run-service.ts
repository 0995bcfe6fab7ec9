import 'reflect-metadata';
import type { DynamicModule } from '@nestjs/common';
import type { z } from 'zod';
import { BusEnv, ConfigError, loadServiceSettings, type ServiceSettings } from '#libs/config';
import { JsonLogger } from '#libs/observability';
import { NatsBus } from './nats-bus.js';
import { startBusService } from './bootstrap.js';
import type { Bus } from './bus.js';

type EnvOf<S extends z.ZodRawShape> = ServiceSettings<z.infer<z.ZodObject<S>> & z.infer<z.ZodObject<typeof BusEnv>>>['env'];

export interface ServiceDefinition<S extends z.ZodRawShape> {
  /** Service name: log field, NATS connection name and queue group. */
  name: string;
  /** This service's env schema (SPEC section 1), on top of BusEnv. */
  env: S;
  /** Builds the root module from parsed settings; async work (database, Redis) happens here. */
  createModule: (settings: ServiceSettings<EnvOf<S>>, bus: Bus, logger: JsonLogger) => Promise<DynamicModule>;
}

/**
 * The whole of a service's main.ts: parse env and config (a bad one prints one line per problem and exits 1),
 * connect to NATS, start the Nest microservice, stop cleanly on SIGINT/SIGTERM.
 */
export async function runService<S extends z.ZodRawShape>(definition: ServiceDefinition<S>): Promise<void> {
  let settings: ServiceSettings<EnvOf<S>>;
  try {
    settings = loadServiceSettings({ ...BusEnv, ...definition.env }, process.argv.slice(2), process.env) as ServiceSettings<EnvOf<S>>;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${definition.name}: configuration is invalid:\n${error.problems.map((p) => `  ${p}`).join('\n')}\n`);
    process.exit(1);
  }
  const env = settings.env as EnvOf<S> & z.infer<z.ZodObject<typeof BusEnv>>;
  const logger = new JsonLogger(definition.name, env.LOG_LEVEL);
  try {
    const bus = await NatsBus.connect({ url: env.NATS_URL, namespace: env.NATS_NAMESPACE, name: definition.name });
    const module = await definition.createModule(settings, bus, logger);
    const app = await startBusService({ module, bus, queueGroup: definition.name, logger });
    logger.log(`${definition.name} ready`, 'Main');
    const stop = async () => {
      await app.close();
      await bus.close();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } catch (error) {
    logger.error(`${definition.name} failed to start: ${(error as Error).message}`, 'Main');
    process.exit(1);
  }
}
