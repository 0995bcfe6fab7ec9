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
    return AuthModule.register({ bus: infrastructure.bus, dataSource, masterKey: settings.masterKey, ownsDataSource: true });
  }),
};
