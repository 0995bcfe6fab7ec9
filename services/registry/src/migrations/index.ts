import { CreateMcpServers1732000000000 } from './1732000000000-create-mcp-servers.js';

/** Every registry migration, oldest first. */
export const registryMigrations = [CreateMcpServers1732000000000];
