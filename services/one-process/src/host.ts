import 'reflect-metadata';
import type { EmbeddedDatabase } from '#libs/database';
import { JsonLogger } from '#libs/observability';
import {
  loadSettingsOrExit,
  onShutdown,
  openInfrastructure,
  startObservability,
  type InfrastructureEnv,
  type OpenedInfrastructure,
  type RunningService,
  type ServiceDefinition,
} from '#libs/runtime';
import { authDefinition } from '../../auth/src/auth.definition.js';
import { connectorDefinition } from '../../connector/src/connector.definition.js';
import { edgeDefinition } from '../../edge/src/edge.definition.js';
import { EdgeListenError } from '../../edge/src/edge-http.js';
import { llmProxyDefinition } from '../../llm-proxy/src/llm-proxy.definition.js';
import { registryDefinition } from '../../registry/src/registry.definition.js';

/**
 * The one-process default (`npm start`): all five services as modules of ONE Node process. Each part of the
 * infrastructure is embedded unless its URL is set: the in-process bus (or NATS_URL), PGlite in
 * SWITCHBOARD_DATA_DIR (or DATABASE_URL), memory stores (or REDIS_URL). The services are the same code the
 * distributed suite runs, started in dependency order: connector before the registry fetches catalogs, the edge
 * last, so that it is ready only once the rest answers.
 */
const SERVICES: ServiceDefinition[] = [connectorDefinition, registryDefinition, authDefinition, llmProxyDefinition, edgeDefinition] as ServiceDefinition[];

/** Runs the gateway; `embedded` is the embedded database main.ts began opening while this code loaded. */
export async function runOneProcess(embedded: Promise<EmbeddedDatabase> | undefined): Promise<void> {
  const settings = loadSettingsOrExit('switchboard', Object.assign({}, ...SERVICES.map((s) => s.env)));
  const env = settings.env;
  const log = new JsonLogger('switchboard', env.LOG_LEVEL);

  const needs = { database: SERVICES.some((s) => s.needs.database), stores: SERVICES.some((s) => s.needs.stores) };
  let infrastructure: OpenedInfrastructure;
  let stopObservability: () => Promise<void> = async () => undefined;
  try {
    stopObservability = await startObservability(env, 'switchboard', log);
    infrastructure = await openInfrastructure(env as InfrastructureEnv, needs, 'switchboard', embedded);
  } catch (error) {
    log.error(`cannot start: ${(error as Error).message}`, 'Main');
    process.exit(1);
  }
  log.log(`one process: ${infrastructure.description}`, 'Main');

  const running: RunningService[] = [];
  async function stopAll(): Promise<void> {
    // The edge first (it was started last): stop taking requests before the services behind it go.
    for (const service of running.reverse()) await service.close().catch((error: Error) => log.error(`stopping: ${error.message}`, 'Main'));
    await infrastructure.close();
    await stopObservability();
  }

  try {
    // One logger for all: Nest's class loggers write through the logger of the last app created, so per-service
    // loggers would mislabel lines; each line's context names the class instead.
    for (const definition of SERVICES) {
      running.push(await definition.start({ name: definition.name, settings: settings as never, infrastructure, logger: log, graceMs: env.SHUTDOWN_GRACE_MS }));
    }
  } catch (error) {
    log.error(error instanceof EdgeListenError ? error.message : `cannot start: ${(error as Error).stack ?? error}`, 'Main');
    await stopAll();
    process.exit(1);
  }
  log.log('switchboard ready', 'Main');
  onShutdown(stopAll, env.SHUTDOWN_GRACE_MS + 5_000, (message) => log.log(`switchboard ${message}`, 'Main'));
}
