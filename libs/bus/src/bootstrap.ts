import { NestFactory } from '@nestjs/core';
import type { DynamicModule, INestMicroservice, LoggerService } from '@nestjs/common';
import type { Bus } from './bus.js';
import { BusServer } from './bus-server.js';
import { RpcErrorFilter } from './rpc-error.filter.js';

export interface BusServiceOptions {
  module: DynamicModule;
  bus: Bus;
  /** Replicas of one service share this NATS queue group. */
  queueGroup: string;
  logger: LoggerService;
  /** At shutdown, how long calls already taken may run on (BusServer). */
  drainMs?: number;
}

/** Starts a Nest microservice whose @RpcHandler methods answer on the bus. */
export async function startBusService(options: BusServiceOptions): Promise<INestMicroservice> {
  const app = await NestFactory.createMicroservice(options.module, {
    strategy: new BusServer(options.bus, options.queueGroup, options.drainMs),
    logger: options.logger,
  });
  app.useGlobalFilters(new RpcErrorFilter());
  await app.listen();
  return app;
}
