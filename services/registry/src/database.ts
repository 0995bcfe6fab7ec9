import type { DataSource } from 'typeorm';
import { openServiceDatabase, type DatabaseTarget, type ServiceData } from '#libs/database';
import { registryMigrations } from './migrations/index.js';
import { McpServerEntity } from './servers/server.entity.js';
import { UpstreamConsentEntity, UpstreamCredentialEntity } from './upstream-oauth/upstream-credential.entity.js';

/** The registry's database (Postgres or the embedded one): its entities and migrations (run at open, never synchronize). */
export function openRegistryDatabase(target: DatabaseTarget): Promise<DataSource> {
  return openServiceDatabase({ target, service: 'registry', entities: [McpServerEntity, UpstreamCredentialEntity, UpstreamConsentEntity], migrations: registryMigrations });
}

/** The registry's part of `npm run data` (copy, export, import). */
export const REGISTRY_DATA: ServiceData = {
  service: 'registry',
  open: openRegistryDatabase,
  tables: [
    { name: 'mcp_servers', key: 'id' },
    { name: 'mcp_upstream_credentials', key: 'server_id' },
    { name: 'mcp_upstream_consents', key: 'server_id' },
  ],
};
