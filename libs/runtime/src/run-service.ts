import 'reflect-metadata';
import { z } from 'zod';
import { BusEnv, ConfigError, DatabaseEnv, RedisEnv, loadServiceSettings, type ServiceSettings } from '#libs/config';
import { JsonLogger } from '#libs/observability';
import { openInfrastructure, type InfrastructureEnv } from './infrastructure.js';
import { startObservability } from './observability.js';
import { RuntimeEnv } from './runtime-env.js';
import type { ServiceDefinition } from './service-definition.js';
import { onShutdown } from './shutdown.js';

/** What every process of Switchboard reads to open its infrastructure (SPEC section 1). */
export const InfrastructureEnvShape = { ...BusEnv, ...DatabaseEnv, ...RedisEnv, ...RuntimeEnv };
type HostEnv = z.infer<z.ZodObject<typeof InfrastructureEnvShape>>;

/**
 * Parses env and config for `shape`; a bad one prints one line per problem and exits 1.
 * `name` prefixes the message (`registry: configuration is invalid:`).
 */
export function loadSettingsOrExit<S extends z.ZodRawShape>(name: string, shape: S): ServiceSettings<z.infer<z.ZodObject<S>> & HostEnv> {
  try {
    const settings = loadServiceSettings({ ...InfrastructureEnvShape, ...shape }, process.argv.slice(2), process.env);
    const placeholders = placeholderSecrets(settings.masterKey, process.env.SWITCHBOARD_SALT_KEY);
    if (placeholders.length) throw new ConfigError(placeholders);
    return settings as never;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${name}: configuration is invalid:\n${error.problems.map((p) => `  ${p}`).join('\n')}\n`);
    process.exit(1);
  }
}

/** The deploy files ship `change-me…` placeholders for secrets: refuse to run with one rather than be guessable. */
export function placeholderSecrets(masterKey: string | undefined, saltKey: string | undefined): string[] {
  const placeholder = (value: string | undefined) => value !== undefined && /^change-?me/i.test(value);
  return [
    ...(placeholder(masterKey) ? ['MASTER_KEY: still the placeholder of the deploy files; set a secret of your own'] : []),
    ...(placeholder(saltKey) ? ['SWITCHBOARD_SALT_KEY: still the placeholder of the deploy files; set a secret of your own'] : []),
  ];
}

/**
 * The whole of a service's main.ts in the distributed suite: parse env and config, open NATS (and Postgres and
 * Redis when the service needs them; their URLs are then required), start the service, and stop it cleanly on
 * SIGINT/SIGTERM/SIGHUP or when the supervisor goes away.
 */
export async function runService<S extends z.ZodRawShape>(definition: ServiceDefinition<S>): Promise<void> {
  const settings = loadSettingsOrExit(definition.name, definition.env);
  const env = settings.env as HostEnv;
  const missing = [
    env.NATS_URL ? undefined : 'NATS_URL',
    definition.needs.database && !env.DATABASE_URL ? 'DATABASE_URL' : undefined,
    definition.needs.stores && !env.REDIS_URL ? 'REDIS_URL' : undefined,
  ].filter(Boolean);
  if (missing.length > 0) {
    process.stderr.write(
      `${definition.name}: configuration is invalid:\n  ${missing.join(', ')} must be set: a separate ${definition.name} process joins the others through NATS${definition.needs.database ? ', Postgres' : ''}${definition.needs.stores ? ' and Redis' : ''} (npm start without --distributed runs everything in one process without them)\n`,
    );
    process.exit(1);
  }
  const logger = new JsonLogger(definition.name, env.LOG_LEVEL);
  let infrastructure;
  let service;
  let stopObservability: () => Promise<void> = async () => undefined;
  try {
    stopObservability = await startObservability(env, definition.name, logger);
    infrastructure = await openInfrastructure(env as InfrastructureEnv, definition.needs, definition.name);
    service = await definition.start({ name: definition.name, settings: settings as never, infrastructure, logger, graceMs: env.SHUTDOWN_GRACE_MS });
  } catch (error) {
    logger.error(`${definition.name} failed to start: ${(error as Error).message}`, 'Main');
    await infrastructure?.close();
    await stopObservability();
    process.exit(1);
  }
  logger.log(`${definition.name} ready (${infrastructure.description})`, 'Main');
  const running = service;
  const opened = infrastructure;
  onShutdown(
    async () => {
      await running.close();
      await opened.close();
      await stopObservability();
    },
    env.SHUTDOWN_GRACE_MS + 5_000,
    (message) => logger.log(`${definition.name} ${message}`, 'Main'),
  );
}
