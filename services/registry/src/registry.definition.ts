import { busService, required, type ServiceDefinition } from '#libs/runtime';
import { RegistryEnv } from './config.js';
import { openRegistryDatabase } from './database.js';
import { RegistryModule } from './registry.module.js';
import { CredentialCipher } from './servers/credential-cipher.js';
import { resolveSaltKey } from './servers/salt-key.js';

/** MCP servers and the catalog: owns its tables, caches the catalog in the stores. */
export const registryDefinition: ServiceDefinition<typeof RegistryEnv> = {
  name: 'registry',
  env: RegistryEnv,
  needs: { database: true, stores: true },
  start: busService(async ({ settings, infrastructure, logger }) => {
    const database = required(infrastructure.database, 'database');
    const key = resolveSaltKey(settings.env.SWITCHBOARD_SALT_KEY, database);
    if (key.source === 'data folder (generated now)') {
      logger.warn(`generated the key for upstream credentials at rest in ${key.file}: keep it with the data folder (backups included)`, 'Main');
    }
    const dataSource = await openRegistryDatabase(database);
    return RegistryModule.register({
      bus: infrastructure.bus,
      dataSource,
      stores: required(infrastructure.stores, 'stores'),
      cipher: new CredentialCipher(key.material),
      options: { seedServers: settings.file.config.mcp_servers, generalSettings: settings.file.config.general_settings },
      closeConnectionsOnShutdown: true,
    });
  }),
};
