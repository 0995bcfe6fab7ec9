import { busService, required, type ServiceDefinition } from '#libs/runtime';
import { RegistryEnv } from './config.js';
import { openRegistryDatabase } from './database.js';
import { RegistryModule } from './registry.module.js';
import { CredentialCipher, credentialKeyMaterial } from './servers/credential-cipher.js';

/** MCP servers and the catalog: owns its tables, caches the catalog in the stores. */
export const registryDefinition: ServiceDefinition<typeof RegistryEnv> = {
  name: 'registry',
  env: RegistryEnv,
  needs: { database: true, stores: true },
  start: busService(async ({ settings, infrastructure, logger }) => {
    const key = credentialKeyMaterial(settings.env.SWITCHBOARD_SALT_KEY, settings.masterKey);
    if (key.source === 'development') {
      logger.warn('neither SWITCHBOARD_SALT_KEY nor a master key is set: upstream credentials are encrypted with a fixed development key', 'Main');
    }
    const dataSource = await openRegistryDatabase(required(infrastructure.database, 'database'));
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
