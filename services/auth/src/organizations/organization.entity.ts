import { EntitySchema } from 'typeorm';
import type { ObjectPermission } from '#libs/contracts';

export interface OrganizationRow {
  id: string;
  organization_alias: string;
  object_permission: ObjectPermission | null;
  rpm_limit: number | null;
  metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

/** Explicit column types everywhere: nothing relies on emitted decorator metadata. */
export const OrganizationEntity = new EntitySchema<OrganizationRow>({
  name: 'Organization',
  tableName: 'organizations',
  columns: {
    id: { type: 'varchar', length: 128, primary: true },
    organization_alias: { type: 'varchar', length: 256 },
    object_permission: { type: 'jsonb', nullable: true },
    rpm_limit: { type: 'integer', nullable: true },
    metadata: { type: 'jsonb', default: () => "'{}'" },
    created_at: { type: 'timestamptz', createDate: true },
    updated_at: { type: 'timestamptz', updateDate: true },
  },
});
