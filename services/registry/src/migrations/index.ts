import { CreateMcpServers1732000000000 } from './1732000000000-create-mcp-servers.js';
import { UpstreamOAuth1767000000000 } from './1767000000000-upstream-oauth.js';

/** Every registry migration, oldest first. */
export const registryMigrations = [CreateMcpServers1732000000000, UpstreamOAuth1767000000000];
