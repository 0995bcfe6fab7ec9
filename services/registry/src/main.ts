import { runService } from '#libs/bus';
import { openStores } from '#libs/cache';
import { RegistryEnv } from './config.js';
import { openRegistryDatabase } from './database.js';
import { RegistryModule } from './registry.module.js';
import { CredentialCipher, credentialKeyMaterial } from './servers/credential-cipher.js';

await runService({
  name: 'registry',
  env: RegistryEnv,
  async createModule(settings, bus, logger) {
    const key = credentialKeyMaterial(settings.env.SWITCHBOARD_SALT_KEY, settings.masterKey);
    if (key.source === 'development') {
      logger.warn('neither SWITCHBOARD_SALT_KEY nor a master key is set: upstream credentials are encrypted with a fixed development key', 'Main');
    }
    const dataSource = await openRegistryDatabase(settings.env.DATABASE_URL);
    const stores = openStores({ redisUrl: settings.env.REDIS_URL, prefix: settings.env.REDIS_PREFIX });
    return RegistryModule.register({
      bus,
      dataSource,
      stores,
      cipher: new CredentialCipher(key.material),
      options: { seedServers: settings.file.config.mcp_servers },
      closeConnectionsOnShutdown: true,
    });
  },
});
