import type { DynamicModule } from '@nestjs/common';
import type { z } from 'zod';
import { startBusService } from '#libs/bus';
import type { ServiceSettings } from '#libs/config';
import type { ServiceName } from '#libs/contracts';
import type { JsonLogger } from '#libs/observability';
import type { Infrastructure, InfrastructureNeeds } from './infrastructure.js';

/** A started service: `close` stops taking work, finishes what is in flight (bounded) and releases resources. */
export interface RunningService {
  close(): Promise<void>;
}

export interface ServiceStartContext<E> {
  /** The service's name: its queue group on the bus. */
  name: ServiceName;
  settings: ServiceSettings<E>;
  infrastructure: Infrastructure;
  /** Its own logger in a process of its own; the process's one logger in the one-process default. */
  logger: JsonLogger;
  /** SHUTDOWN_GRACE_MS: how long calls in flight may run on at shutdown. */
  graceMs: number;
}

/**
 * One service, as both hosts run it: its own process in the distributed suite (runService) and a module beside
 * the others in the one-process default (services/one-process).
 */
export interface ServiceDefinition<S extends z.ZodRawShape = z.ZodRawShape> {
  name: ServiceName;
  /** This service's env schema (SPEC section 1), on top of the bus and runtime settings. */
  env: S;
  /** What it uses besides the bus; a separate process of it requires the matching URLs. */
  needs: InfrastructureNeeds;
  start(context: ServiceStartContext<z.infer<z.ZodObject<S>>>): Promise<RunningService>;
}

/** `start` for the services that only answer on the bus: their root module served on the bus, in a queue group. */
export function busService<E>(createModule: (context: ServiceStartContext<E>) => Promise<DynamicModule>) {
  return async (context: ServiceStartContext<E>): Promise<RunningService> => {
    const module = await createModule(context);
    const app = await startBusService({
      module,
      bus: context.infrastructure.bus,
      queueGroup: context.name,
      logger: context.logger,
      drainMs: context.graceMs,
    });
    return { close: () => app.close() };
  };
}

/** Narrows `infrastructure` to what a definition said it needs (a bug in the definition, not a user error). */
export function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} was not opened: add it to the service definition's needs`);
  return value;
}
