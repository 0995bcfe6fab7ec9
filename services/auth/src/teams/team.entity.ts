import { EntitySchema } from 'typeorm';
import type { ObjectPermission } from '#libs/contracts';

export interface TeamRow {
  id: string;
  team_alias: string | null;
  organization_id: string | null;
  object_permission: ObjectPermission | null;
  rpm_limit: number | null;
  max_parallel_requests: number | null;
  models: string[];
  metadata: Record<string, unknown>;
  blocked: boolean;
  created_at: Date;
  updated_at: Date;
}

export const TeamEntity = new EntitySchema<TeamRow>({
  name: 'Team',
  tableName: 'teams',
  columns: {
    id: { type: 'varchar', length: 128, primary: true },
    team_alias: { type: 'varchar', length: 256, nullable: true },
    organization_id: { type: 'varchar', length: 128, nullable: true },
    object_permission: { type: 'jsonb', nullable: true },
    rpm_limit: { type: 'integer', nullable: true },
    max_parallel_requests: { type: 'integer', nullable: true },
    models: { type: 'jsonb', default: () => "'[]'" },
    metadata: { type: 'jsonb', default: () => "'{}'" },
    blocked: { type: 'boolean', default: false },
    created_at: { type: 'timestamptz', createDate: true },
    updated_at: { type: 'timestamptz', updateDate: true },
  },
});
