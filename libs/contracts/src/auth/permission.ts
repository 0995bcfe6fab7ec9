import { z } from 'zod';

/**
 * LiteLLM's `object_permission`, as set on a key, a team or an organization. Unknown fields are refused
 * (a typo like `mcp_server` must not silently widen or narrow access).
 * - `mcp_servers`: server names or ids this level allows.
 * - `mcp_access_groups`: every server in these access groups is allowed too.
 * - `mcp_tool_permissions`: `{ server name or id: [tool names] }` restricts that server to the listed tools.
 *   It never grants the server itself.
 * `null` (or absent) on a level means "not set": that level adds no restriction. A set level with empty lists
 * allows nothing. See libs/permissions for the full rules.
 */
export const ObjectPermission = z.strictObject({
  mcp_servers: z.array(z.string().min(1, 'expected a server name or id')).default([]),
  mcp_access_groups: z.array(z.string().min(1, 'expected an access group name')).default([]),
  mcp_tool_permissions: z.record(z.string().min(1), z.array(z.string().min(1, 'expected a tool name'))).default({}),
});
export type ObjectPermission = z.infer<typeof ObjectPermission>;

/** The three levels whose object_permission decide a key's access; null = not set. */
export const PermissionLevels = z.object({
  key: ObjectPermission.nullable(),
  team: ObjectPermission.nullable(),
  organization: ObjectPermission.nullable(),
});
export type PermissionLevels = z.infer<typeof PermissionLevels>;
