import { runService } from '#libs/bus';
import { ConnectorEnv } from './config.js';
import { ConnectorModule } from './connector.module.js';

await runService({
  name: 'connector',
  env: ConnectorEnv,
  createModule: async (_settings, bus) => ConnectorModule.register({ bus }),
});
