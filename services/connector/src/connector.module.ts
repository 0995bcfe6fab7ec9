import { Module, type DynamicModule } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { ConnectorAnnouncer } from './connector-announcer.js';
import { HealthHandler } from './handlers/health.handler.js';
import { ProbeHandler } from './handlers/probe.handler.js';
import { UpstreamHandler } from './handlers/upstream.handler.js';
import { ServerProbe } from './probe/server-probe.js';
import { ServerDefinitionsService } from './servers/server-definitions.service.js';
import { UpstreamAuth } from './upstream/upstream-auth.js';
import { UPSTREAM_POOL_OPTIONS, UpstreamPool, type UpstreamPoolOptions } from './upstream/upstream-pool.js';

export interface ConnectorModuleOptions {
  bus: Bus;
  /** Pool tuning (tests shorten the stdio restart backoff). */
  pool?: Partial<UpstreamPoolOptions>;
}

@Module({})
export class ConnectorModule {
  static register(options: ConnectorModuleOptions): DynamicModule {
    return {
      module: ConnectorModule,
      controllers: [UpstreamHandler, ProbeHandler, HealthHandler],
      providers: [
        { provide: Bus, useValue: options.bus },
        { provide: UPSTREAM_POOL_OPTIONS, useValue: options.pool ?? {} },
        ServerDefinitionsService,
        UpstreamAuth,
        UpstreamPool,
        ServerProbe,
        ConnectorAnnouncer,
      ],
      exports: [UpstreamPool, ServerDefinitionsService],
    };
  }
}
