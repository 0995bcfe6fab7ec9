import { busService, required, type ServiceDefinition } from '#libs/runtime';
import { AuthModule } from './auth.module.js';
import { AuthEnv } from './config.js';
import { openAuthDatabase } from './database/auth-database.js';

/** Keys, teams, organizations and the audit log: owns its tables. */
export const authDefinition: ServiceDefinition<typeof AuthEnv> = {
  name: 'auth',
  env: AuthEnv,
  needs: { database: true },
  start: busService(async ({ settings, infrastructure }) => {
    const dataSource = await openAuthDatabase(required(infrastructure.database, 'database'));
    const general = settings.file.config.general_settings;
    return AuthModule.register({
      bus: infrastructure.bus,
      dataSource,
      masterKey: settings.masterKey,
      ownsDataSource: true,
      retention: {
        auditRetentionMs: general.mcp_audit_log_retention_period,
        ...(general.maximum_spend_logs_retention_interval ? { intervalMs: general.maximum_spend_logs_retention_interval } : {}),
      },
    });
  }),
};
