import { z } from 'zod';
import { ConfigError, parseOrThrow } from './config-error.js';
import { loadGatewayConfig, type LoadedConfig } from './gateway-config.js';

/** Environment every service reads (SPEC section 1); each service's config.ts extends what it needs. */
export const BusEnv = {
  /** Unset: the in-process bus (one process). Set: NATS, which every separate service process requires. */
  NATS_URL: z.string().min(1).optional(),
  /** Put in front of every NATS subject; lets two deployments or test runs share one NATS. */
  NATS_NAMESPACE: z.string().regex(/^[A-Za-z0-9_-]*$/).default(''),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
};
export const DatabaseEnv = {
  /** Unset: the embedded database in SWITCHBOARD_DATA_DIR (one process). Set: that Postgres database. */
  DATABASE_URL: z.string().min(1).optional(),
};
export const RedisEnv = {
  /** Unset: sessions, caches and rate counters in memory (one process). Set: that Redis. */
  REDIS_URL: z.string().min(1).optional(),
  /** Put in front of every Redis key, like NATS_NAMESPACE for subjects. */
  REDIS_PREFIX: z.string().default('sb:'),
};
export const ConfigFileEnv = {
  SWITCHBOARD_CONFIG: z.string().optional(),
  MASTER_KEY: z.string().min(1).optional(),
};

/** `--config PATH` on the command line wins over SWITCHBOARD_CONFIG. */
export function configPathFrom(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  const flag = argv.indexOf('--config');
  if (flag >= 0) return argv[flag + 1];
  const inline = argv.find((a) => a.startsWith('--config='));
  return inline ? inline.slice('--config='.length) : env.SWITCHBOARD_CONFIG || undefined;
}

export interface ServiceSettings<E> {
  env: E;
  file: LoadedConfig;
  /** MASTER_KEY wins over general_settings.master_key. */
  masterKey: string | undefined;
}

/** Parses a service's env schema and the config file, collecting every problem before failing. */
export function loadServiceSettings<S extends z.ZodRawShape>(
  shape: S,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): ServiceSettings<z.infer<z.ZodObject<S & typeof ConfigFileEnv>>> {
  const problems: string[] = [];
  let parsedEnv: z.infer<z.ZodObject<S & typeof ConfigFileEnv>> | undefined;
  let file: LoadedConfig | undefined;
  try {
    parsedEnv = parseOrThrow(z.object({ ...shape, ...ConfigFileEnv }), env, 'env');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  try {
    file = loadGatewayConfig(configPathFrom(argv, env), env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const masterKey = (parsedEnv as { MASTER_KEY?: string }).MASTER_KEY ?? file!.config.general_settings.master_key;
  return { env: parsedEnv!, file: file!, masterKey };
}
