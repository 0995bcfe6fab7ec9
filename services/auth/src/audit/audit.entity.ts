import { EntitySchema } from 'typeorm';

export interface AuditLogRow {
  id: string;
  time: Date;
  key_alias: string | null;
  token_hash_prefix: string | null;
  team_id: string | null;
  organization_id: string | null;
  server_name: string;
  tool: string;
  status: string;
  duration_ms: number;
  error_code: string | null;
  session_id: string | null;
}

export const AuditLogEntity = new EntitySchema<AuditLogRow>({
  name: 'AuditLog',
  tableName: 'audit_log',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment' },
    time: { type: 'timestamptz' },
    key_alias: { type: 'varchar', length: 256, nullable: true },
    token_hash_prefix: { type: 'varchar', length: 8, nullable: true },
    team_id: { type: 'varchar', length: 128, nullable: true },
    organization_id: { type: 'varchar', length: 128, nullable: true },
    server_name: { type: 'varchar', length: 128 },
    tool: { type: 'varchar', length: 256 },
    status: { type: 'varchar', length: 32 },
    duration_ms: { type: 'integer' },
    error_code: { type: 'varchar', length: 128, nullable: true },
    session_id: { type: 'varchar', length: 256, nullable: true },
  },
});
