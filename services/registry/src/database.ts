import type { DataSource } from 'typeorm';
import { openServiceDatabase, type DatabaseTarget, type ServiceData } from '#libs/database';
import { registryMigrations } from './migrations/index.js';
import { McpServerEntity } from './servers/server.entity.js';

/** The registry's database (Postgres or the embedded one): its entities and migrations (run at open, never synchronize). */
export function openRegistryDatabase(target: DatabaseTarget): Promise<DataSource> {
  return openServiceDatabase({ target, service: 'registry', entities: [McpServerEntity], migrations: registryMigrations });
}

/** The registry's part of `npm run data` (copy, export, import). */
export const REGISTRY_DATA: ServiceData = {
  service: 'registry',
  open: openRegistryDatabase,
  tables: [{ name: 'mcp_servers', key: 'id' }],
};
