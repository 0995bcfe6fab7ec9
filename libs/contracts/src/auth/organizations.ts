import { z } from 'zod';
import { defineContract } from '../contract.js';
import { Subjects } from '../subjects.js';
import { Alias, EntityId, Metadata, RpmLimit, Timestamp } from './common.js';
import { ObjectPermission } from './permission.js';
import { TeamInfo } from './teams.js';

/** Organizations (LiteLLM `/organization/*`). An organization's object_permission is one level of every key of its teams. */
export const OrganizationInfo = z.object({
  organization_id: z.string(),
  organization_alias: z.string(),
  object_permission: ObjectPermission.nullable(),
  /** Shared by all keys of all its teams; null = unlimited. */
  rpm_limit: z.number().nullable(),
  metadata: Metadata,
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type OrganizationInfo = z.infer<typeof OrganizationInfo>;

/** POST /organization/new. `organization_alias` is required and unique; `organization_id` generated (uuid) unless given. */
export const NewOrganizationRequest = z.strictObject({
  organization_id: EntityId.optional(),
  organization_alias: Alias,
  object_permission: ObjectPermission.nullish(),
  rpm_limit: RpmLimit.nullish(),
  metadata: Metadata.optional(),
});
export type NewOrganizationRequest = z.input<typeof NewOrganizationRequest>;

/** POST /organization/update: every field present is changed (null clears it). Publishes KeysChanged for all its keys. */
export const UpdateOrganizationRequest = NewOrganizationRequest.extend({ organization_id: EntityId, organization_alias: Alias.optional() });
export type UpdateOrganizationRequest = z.input<typeof UpdateOrganizationRequest>;

/**
 * POST /organization/delete `{organization_ids: [...]}`. All or nothing. An organization that still has teams is
 * NOT deleted: CONFLICT with `details.team_count` (for the same reason teams with keys are not).
 */
export const DeleteOrganizationsRequest = z.strictObject({
  organization_ids: z.array(EntityId).min(1, 'expected at least one organization id'),
});
export const DeleteOrganizationsReply = z.object({ deleted_organizations: z.array(z.string()) });

/** GET /organization/info?organization_id=: the organization and its teams. */
export const GetOrganizationInfoReply = OrganizationInfo.extend({ teams: z.array(TeamInfo) });

export const ListOrganizationsReply = z.object({ organizations: z.array(OrganizationInfo) });

export const NewOrganization = defineContract('NewOrganization', Subjects.auth.newOrganization, NewOrganizationRequest, OrganizationInfo);
export const UpdateOrganization = defineContract(
  'UpdateOrganization',
  Subjects.auth.updateOrganization,
  UpdateOrganizationRequest,
  OrganizationInfo,
);
export const DeleteOrganizations = defineContract(
  'DeleteOrganizations',
  Subjects.auth.deleteOrganizations,
  DeleteOrganizationsRequest,
  DeleteOrganizationsReply,
);
export const GetOrganizationInfo = defineContract(
  'GetOrganizationInfo',
  Subjects.auth.getOrganizationInfo,
  z.strictObject({ organization_id: EntityId }),
  GetOrganizationInfoReply,
);
export const ListOrganizations = defineContract(
  'ListOrganizations',
  Subjects.auth.listOrganizations,
  z.strictObject({}),
  ListOrganizationsReply,
);
