import { EntitySchema } from 'typeorm';
import type { ObjectPermission } from '#libs/contracts';

/** A virtual key. The key itself is never stored: `token_hash` is its sha256 (hex). */
export interface KeyRow {
  token_hash: string;
  key_alias: string | null;
  key_name: string;
  team_id: string | null;
  user_id: string | null;
  expires: Date | null;
  blocked: boolean;
  metadata: Record<string, unknown>;
  rpm_limit: number | null;
  max_parallel_requests: number | null;
  object_permission: ObjectPermission | null;
  models: string[];
  is_admin: boolean;
  created_at: Date;
  updated_at: Date;
}

export const KeyEntity = new EntitySchema<KeyRow>({
  name: 'Key',
  tableName: 'keys',
  columns: {
    token_hash: { type: 'char', length: 64, primary: true },
    key_alias: { type: 'varchar', length: 256, nullable: true },
    key_name: { type: 'varchar', length: 32 },
    team_id: { type: 'varchar', length: 128, nullable: true },
    user_id: { type: 'varchar', length: 256, nullable: true },
    expires: { type: 'timestamptz', nullable: true },
    blocked: { type: 'boolean', default: false },
    metadata: { type: 'jsonb', default: () => "'{}'" },
    rpm_limit: { type: 'integer', nullable: true },
    max_parallel_requests: { type: 'integer', nullable: true },
    object_permission: { type: 'jsonb', nullable: true },
    models: { type: 'jsonb', default: () => "'[]'" },
    is_admin: { type: 'boolean', default: false },
    created_at: { type: 'timestamptz', createDate: true },
    updated_at: { type: 'timestamptz', updateDate: true },
  },
});
