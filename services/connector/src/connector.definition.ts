import { busService, type ServiceDefinition } from '#libs/runtime';
import { ConnectorEnv } from './config.js';
import { ConnectorModule } from './connector.module.js';

/** Upstream MCP sessions: needs only the bus (server definitions come from the registry). */
export const connectorDefinition: ServiceDefinition<typeof ConnectorEnv> = {
  name: 'connector',
  env: ConnectorEnv,
  needs: {},
  start: busService(async ({ infrastructure, settings }) => {
    const general = settings.file.config.general_settings;
    return ConnectorModule.register({
      bus: infrastructure.bus,
      pool: {
        ...(general.mcp_client_session_idle_timeout !== undefined ? { clientSessionIdleMs: general.mcp_client_session_idle_timeout } : {}),
        ...(general.mcp_max_client_stdio_sessions !== undefined ? { maxClientStdioSessions: general.mcp_max_client_stdio_sessions } : {}),
      },
    });
  }),
};
