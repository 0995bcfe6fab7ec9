import { runService } from '#libs/bus';
import { AuthModule } from './auth.module.js';
import { AuthEnv } from './config.js';
import { openAuthDatabase } from './database/auth-database.js';

await runService({
  name: 'auth',
  env: AuthEnv,
  createModule: async (settings, bus) => {
    const dataSource = await openAuthDatabase(settings.env.DATABASE_URL);
    return AuthModule.register({ bus, dataSource, masterKey: settings.masterKey, ownsDataSource: true });
  },
});
