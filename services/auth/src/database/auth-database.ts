import type { DataSource } from 'typeorm';
import { openServiceDatabase, type DatabaseTarget, type ServiceData } from '#libs/database';
import { AuditLogEntity } from '../audit/audit.entity.js';
import { KeyEntity } from '../keys/key.entity.js';
import { CreateAuthTables1764000000000 } from '../migrations/1764000000000-create-auth-tables.js';
import { AddModels1765000000000 } from '../migrations/1765000000000-add-models.js';
import { OrganizationEntity } from '../organizations/organization.entity.js';
import { TeamEntity } from '../teams/team.entity.js';

export const AUTH_ENTITIES = [OrganizationEntity, TeamEntity, KeyEntity, AuditLogEntity];
export const AUTH_MIGRATIONS = [CreateAuthTables1764000000000, AddModels1765000000000];

/** Opens auth's database (creating it if needed) and runs auth's migrations (table `auth_migrations`). */
export function openAuthDatabase(target: DatabaseTarget): Promise<DataSource> {
  return openServiceDatabase({ target, service: 'auth', entities: AUTH_ENTITIES, migrations: AUTH_MIGRATIONS });
}

/** Auth's part of `npm run data` (copy, export, import): its tables, parents first. */
export const AUTH_DATA: ServiceData = {
  service: 'auth',
  open: openAuthDatabase,
  tables: [
    { name: 'organizations', key: 'id' },
    { name: 'teams', key: 'id' },
    { name: 'keys', key: 'token_hash' },
    { name: 'audit_log', key: 'id' },
  ],
};
