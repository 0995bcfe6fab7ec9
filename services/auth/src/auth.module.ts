import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Bus } from '#libs/bus';
import { AuditRetention } from './audit/audit-retention.js';
import { AuditRepository } from './audit/audit.repository.js';
import { AuditService } from './audit/audit.service.js';
import { UnitOfWork } from './database/unit-of-work.js';
import { AuditHandler } from './handlers/audit.handler.js';
import { HealthHandler } from './handlers/health.handler.js';
import { KeysHandler } from './handlers/keys.handler.js';
import { OrganizationsHandler } from './handlers/organizations.handler.js';
import { TeamsHandler } from './handlers/teams.handler.js';
import { TokenPrincipalsHandler } from './handlers/token-principals.handler.js';
import { HealthRepository } from './health/health.repository.js';
import { HealthService } from './health/health.service.js';
import { KeyEvents } from './keys/key-events.js';
import { KeysService } from './keys/keys.service.js';
import { OrganizationsService } from './organizations/organizations.service.js';
import { TokenPrincipalsService } from './oauth/token-principals.service.js';
import { KnownServers } from './permissions/known-servers.js';
import { TeamsService } from './teams/teams.service.js';
import { AUDIT_BATCH_OPTIONS, CLOCK, MASTER_KEY, RETENTION_OPTIONS, type AuditBatchOptions, type Clock, type RetentionOptions } from './tokens.js';

export interface AuthModuleOptions {
  bus: Bus;
  /** Auth's own database, migrated (openAuthDatabase). */
  dataSource: DataSource;
  masterKey: string | undefined;
  /** Destroy the DataSource when the app shuts down (after the audit buffer is flushed). */
  ownsDataSource?: boolean;
  audit?: Partial<AuditBatchOptions>;
  /** How long audit rows are kept (general_settings.mcp_audit_log_retention_period and its interval). */
  retention?: Partial<RetentionOptions>;
  clock?: Clock;
}

const OWNS_DATA_SOURCE = Symbol('OWNS_DATA_SOURCE');

@Injectable()
class DataSourceLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(OWNS_DATA_SOURCE) private readonly owns: boolean,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.owns && this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** Keys, teams, organizations, verification and the audit log. Receives its bus and database by injection. */
@Module({})
export class AuthModule {
  static register(options: AuthModuleOptions): DynamicModule {
    return {
      module: AuthModule,
      controllers: [KeysHandler, TeamsHandler, OrganizationsHandler, TokenPrincipalsHandler, AuditHandler, HealthHandler],
      providers: [
        { provide: Bus, useValue: options.bus },
        { provide: DataSource, useValue: options.dataSource },
        { provide: MASTER_KEY, useValue: options.masterKey },
        { provide: OWNS_DATA_SOURCE, useValue: options.ownsDataSource ?? false },
        { provide: CLOCK, useValue: options.clock ?? Date.now },
        { provide: AUDIT_BATCH_OPTIONS, useValue: { flushIntervalMs: 200, maxBatch: 500, ...options.audit } satisfies AuditBatchOptions },
        { provide: RETENTION_OPTIONS, useValue: { intervalMs: 3_600_000, firstRunDelayMs: 60_000, ...options.retention } satisfies RetentionOptions },
        UnitOfWork,
        KeyEvents,
        KnownServers,
        KeysService,
        TeamsService,
        OrganizationsService,
        TokenPrincipalsService,
        AuditRepository,
        AuditService,
        AuditRetention,
        HealthRepository,
        HealthService,
        DataSourceLifecycle,
      ],
    };
  }
}
