import { busService, type ServiceDefinition } from '#libs/runtime';
import { ConnectorEnv } from './config.js';
import { ConnectorModule } from './connector.module.js';

/** Upstream MCP sessions: needs only the bus (server definitions come from the registry). */
export const connectorDefinition: ServiceDefinition<typeof ConnectorEnv> = {
  name: 'connector',
  env: ConnectorEnv,
  needs: {},
  start: busService(async ({ infrastructure }) => ConnectorModule.register({ bus: infrastructure.bus })),
};
