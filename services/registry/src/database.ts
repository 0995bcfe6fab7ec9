import type { DataSource } from 'typeorm';
import { openServiceDatabase } from '#libs/database';
import { registryMigrations } from './migrations/index.js';
import { McpServerEntity } from './servers/server.entity.js';

/** The registry's Postgres: its entities and migrations (run at open, never synchronize). */
export function openRegistryDatabase(url: string): Promise<DataSource> {
  return openServiceDatabase({ url, service: 'registry', entities: [McpServerEntity], migrations: registryMigrations });
}
