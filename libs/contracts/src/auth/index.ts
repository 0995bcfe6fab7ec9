import { z } from 'zod';
import { defineContract, defineEvent } from '../contract.js';
import { Subjects } from '../subjects.js';

/** LiteLLM's object_permission, as set on a key, a team or an organization. */
export const ObjectPermission = z.strictObject({
  mcp_servers: z.array(z.string()).default([]),
  mcp_access_groups: z.array(z.string()).default([]),
  mcp_tool_permissions: z.record(z.string(), z.array(z.string())).default({}),
});
export type ObjectPermission = z.infer<typeof ObjectPermission>;

/** Who is calling, with every permission level the edge needs to decide without another hop. */
export const Principal = z.object({
  kind: z.enum(['master', 'virtual']),
  /** sha256 of the key; null for the master key. Never the key itself. */
  token_hash: z.string().nullable(),
  key_alias: z.string().nullable(),
  user_id: z.string().nullable(),
  team_id: z.string().nullable(),
  organization_id: z.string().nullable(),
  expires: z.string().nullable(),
  rpm_limit: z.number().nullable(),
  max_parallel_requests: z.number().nullable(),
  is_admin: z.boolean(),
  levels: z.object({
    key: ObjectPermission.nullable(),
    team: ObjectPermission.nullable(),
    organization: ObjectPermission.nullable(),
  }),
});
export type Principal = z.infer<typeof Principal>;

export const VerifyKey = defineContract('VerifyKey', Subjects.auth.verifyKey, z.object({ key: z.string().min(1) }), Principal);

export const KeysChanged = defineEvent(
  'KeysChanged',
  Subjects.auth.keysChanged,
  z.object({ token_hashes: z.array(z.string()), reason: z.enum(['deleted', 'updated', 'blocked', 'expired', 'team', 'organization']) }),
);
