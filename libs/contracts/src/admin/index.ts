import { z } from 'zod';
import { defineContract, type Contract } from '../contract.js';
import { Subjects } from '../subjects.js';
import { QueryAuditReply, QueryAuditRequest } from '../auth/audit.js';
import { EntityId } from '../auth/common.js';
import { DeleteKeysReply, DeleteKeysRequest, GenerateKeyReply, GenerateKeyRequest, GetKeyInfoReply, KeyInfo, KeyRef, ListKeysReply, ListKeysRequest, UpdateKeyRequest } from '../auth/keys.js';
import {
  DeleteOrganizationsReply,
  DeleteOrganizationsRequest,
  GetOrganizationInfoReply,
  ListOrganizationsReply,
  NewOrganizationRequest,
  OrganizationInfo,
  UpdateOrganizationRequest,
} from '../auth/organizations.js';
import { PermissionLevels } from '../auth/permission.js';
import { EntityReference } from '../auth/token-principal.js';
import { DeleteTeamsReply, DeleteTeamsRequest, GetTeamInfoReply, ListTeamsReply, ListTeamsRequest, NewTeamRequest, TeamInfo, UpdateTeamRequest } from '../auth/teams.js';
import { UpstreamTool } from '../registry/catalog.js';
import { ListUpstreamGrants, RevokeUpstreamGrant } from '../registry/upstream-oauth.js';
import { CreateServerRequest, McpServerView, ServerHealth, UpdateServerRequest } from '../registry/servers.js';

/**
 * The public admin API on NATS (docs/nats-api.md, generated from this file). The edge answers these subjects: it
 * verifies the credential in the request's `meta.authorization` as the REST API does (the master key or a key with
 * `is_admin`), then forwards to the internal contracts. Request bodies are those of the REST API; replies are the
 * internal replies. Internal subjects are never part of it: the admin NATS user in deploy/nats may publish to
 * `sb.v1.admin.>` only.
 */

/**
 * What travels on a public admin subject, as JSON: `{"meta": {...}, "data": <request>}`. The reply is
 * `{"ok": true, "data": <reply>}` or `{"ok": false, "error": <ErrorEnvelope>}`.
 */
export const AdminRequestMeta = z.object({
  authorization: z
    .string()
    .min(1)
    .describe('The master key or an admin key, as "Bearer sk-…" or the key alone. Checked on every request, never passed on.'),
  deadline: z.number().optional().describe('Epoch milliseconds after which the caller no longer waits (optional).'),
});
export type AdminRequestMeta = z.infer<typeof AdminRequestMeta>;

const ServerRefRequest = z.strictObject({ server: z.string().min(1, 'expected a server id or name').describe('A server id or name.') });

/** A stored server tried now: a connector connects (or uses its open session) and lists the server's tools. */
export const ServerTestReport = z.object({
  server_id: z.string(),
  server_name: z.string(),
  status: z.enum(['healthy', 'unhealthy']),
  /** Why it is unhealthy; null when healthy. */
  error: z.string().nullable(),
  protocol_version: z.string().nullable(),
  server_info: z.record(z.string(), z.unknown()).nullable(),
  tool_count: z.number().int(),
  tools: z.array(z.string()),
  duration_ms: z.number().int().min(0),
});
export type ServerTestReport = z.infer<typeof ServerTestReport>;

/** A catalog tool as `GET /v1/mcp/tools` and `/mcp-rest/tools/list` show it: its aggregate name and where it comes from. */
export const AdminTool = UpstreamTool.extend({
  mcp_info: z.object({ server_id: z.string(), server_name: z.string(), tool_name: z.string() }),
});
export const AdminListToolsRequest = z.strictObject({ server: z.string().min(1).optional().describe('Only this server (id or name).') });
export const AdminListToolsReply = z.object({ tools: z.array(AdminTool) });

/** `POST /mcp-rest/tools/call`: a tool called as the caller's key, under its permissions. */
export const AdminCallToolRequest = z.strictObject({
  name: z.string().min(1).describe("The aggregate name (`{server}-{tool}`), or the server's own tool name with `server`."),
  arguments: z.record(z.string(), z.unknown()).optional(),
  server: z.string().min(1).optional(),
});
/** An MCP CallToolResult; a tool's own failure is `isError: true`, not an error reply. */
export const AdminCallToolReply = z.looseObject({ content: z.array(z.looseObject({ type: z.string() })).optional(), isError: z.boolean().optional() });

const ServerRemoval = z.object({ level: z.string(), reason: z.string() });

/** `GET /v1/mcp/permissions`: a virtual key, or an OAuth access token (with the endpoint its audience must name). */
export const ExplainPermissionsRequest = z
  .strictObject({
    key: KeyRef.optional().describe('The virtual key to explain (the key, its hash or its alias).'),
    token: z.string().min(1).max(16_384).optional().describe('An OAuth access token to explain instead (a JWT, or an opaque token of an issuer with introspection).'),
    resource: z.url().optional().describe("With token: the MCP endpoint's URI its audience must name; unset: the audience is reported, not checked."),
  })
  .superRefine((request, ctx) => {
    if (!request.key === !request.token) ctx.addIssue({ code: 'custom', path: ['key'], message: 'required: key (the virtual key to explain), or token (an OAuth access token)' });
    if (request.resource && !request.token) ctx.addIssue({ code: 'custom', path: ['resource'], message: 'only with token' });
  });

/** What an access token maps to: its issuer, the claims read, the user, team and organization. Never the token. */
export const TokenExplanation = z.object({
  issuer: z.string(),
  user_id: z.string(),
  team: EntityReference.nullable(),
  organization: EntityReference.nullable(),
  claims: z.record(z.string(), z.unknown()),
  scopes: z.array(z.string()),
  required_scopes: z.array(z.string()),
  audience: z.unknown(),
  expires: z.string().nullable(),
  team_id: z.string().nullable(),
  organization_id: z.string().nullable(),
});

/** `GET /v1/mcp/permissions`: a key's (or token's) effective servers and tools, and what removed the others. */
export const PermissionsExplanation = z.object({
  key: z.object({ key_alias: z.string().nullable(), key_name: z.string().nullable(), team_id: z.string().nullable(), organization_id: z.string().nullable() }).optional(),
  token: TokenExplanation.optional(),
  levels: PermissionLevels,
  is_master: z.boolean(),
  fingerprint: z.string(),
  servers: z.array(
    z.object({
      server_id: z.string(),
      server_name: z.string(),
      allowed: z.boolean(),
      granted_by: z.array(z.string()),
      removed_by: z.array(ServerRemoval),
      tools: z.array(z.string()),
      removed_tools: z.array(z.object({ tool: z.string(), removed_by: z.array(ServerRemoval) })),
    }),
  ),
});
export type PermissionsExplanation = z.infer<typeof PermissionsExplanation>;

export const AdminListServers = defineContract('AdminListServers', Subjects.admin.listServers, z.strictObject({}), z.object({ servers: z.array(McpServerView) }));
export const AdminGetServer = defineContract('AdminGetServer', Subjects.admin.getServer, ServerRefRequest, McpServerView);
export const AdminCreateServer = defineContract('AdminCreateServer', Subjects.admin.createServer, CreateServerRequest, McpServerView);
export const AdminUpdateServer = defineContract('AdminUpdateServer', Subjects.admin.updateServer, UpdateServerRequest, McpServerView);
export const AdminDeleteServer = defineContract(
  'AdminDeleteServer',
  Subjects.admin.deleteServer,
  ServerRefRequest,
  z.object({ server_id: z.string(), server_name: z.string(), deleted: z.literal(true) }),
);
export const AdminTestServer = defineContract('AdminTestServer', Subjects.admin.testServer, ServerRefRequest, ServerTestReport);
export const AdminServerHealth = defineContract(
  'AdminServerHealth',
  Subjects.admin.serverHealth,
  z.strictObject({ server: z.string().min(1).optional() }),
  z.object({ servers: z.array(ServerHealth) }),
);

export const AdminCreateKey = defineContract('AdminCreateKey', Subjects.admin.createKey, GenerateKeyRequest, GenerateKeyReply);
export const AdminUpdateKey = defineContract('AdminUpdateKey', Subjects.admin.updateKey, UpdateKeyRequest, KeyInfo);
export const AdminDeleteKeys = defineContract('AdminDeleteKeys', Subjects.admin.deleteKeys, DeleteKeysRequest, DeleteKeysReply);
export const AdminGetKey = defineContract('AdminGetKey', Subjects.admin.getKey, z.strictObject({ key: KeyRef }), GetKeyInfoReply);
export const AdminListKeys = defineContract('AdminListKeys', Subjects.admin.listKeys, ListKeysRequest, ListKeysReply);

export const AdminCreateTeam = defineContract('AdminCreateTeam', Subjects.admin.createTeam, NewTeamRequest, TeamInfo);
export const AdminUpdateTeam = defineContract('AdminUpdateTeam', Subjects.admin.updateTeam, UpdateTeamRequest, TeamInfo);
export const AdminDeleteTeams = defineContract('AdminDeleteTeams', Subjects.admin.deleteTeams, DeleteTeamsRequest, DeleteTeamsReply);
export const AdminGetTeam = defineContract('AdminGetTeam', Subjects.admin.getTeam, z.strictObject({ team_id: EntityId }), GetTeamInfoReply);
export const AdminListTeams = defineContract('AdminListTeams', Subjects.admin.listTeams, ListTeamsRequest, ListTeamsReply);

export const AdminCreateOrganization = defineContract('AdminCreateOrganization', Subjects.admin.createOrganization, NewOrganizationRequest, OrganizationInfo);
export const AdminUpdateOrganization = defineContract('AdminUpdateOrganization', Subjects.admin.updateOrganization, UpdateOrganizationRequest, OrganizationInfo);
export const AdminDeleteOrganizations = defineContract(
  'AdminDeleteOrganizations',
  Subjects.admin.deleteOrganizations,
  DeleteOrganizationsRequest,
  DeleteOrganizationsReply,
);
export const AdminGetOrganization = defineContract(
  'AdminGetOrganization',
  Subjects.admin.getOrganization,
  z.strictObject({ organization_id: EntityId }),
  GetOrganizationInfoReply,
);
export const AdminListOrganizations = defineContract('AdminListOrganizations', Subjects.admin.listOrganizations, z.strictObject({}), ListOrganizationsReply);

export const AdminListTools = defineContract('AdminListTools', Subjects.admin.listTools, AdminListToolsRequest, AdminListToolsReply);
export const AdminCallTool = defineContract('AdminCallTool', Subjects.admin.callTool, AdminCallToolRequest, AdminCallToolReply);
export const AdminExplainPermissions = defineContract(
  'AdminExplainPermissions',
  Subjects.admin.explainPermissions,
  ExplainPermissionsRequest,
  PermissionsExplanation,
);
export const AdminQueryAudit = defineContract('AdminQueryAudit', Subjects.admin.queryAudit, QueryAuditRequest, QueryAuditReply);
/** A user's per-user upstream OAuth grants (e.g. before offboarding them). */
export const AdminListUpstreamGrants = defineContract(
  'AdminListUpstreamGrants',
  Subjects.admin.listUpstreamGrants,
  z.strictObject({ user_id: z.string().min(1).max(256).describe("The gateway user (a key's user_id, `key:{token hash}` for a key without one, or an OAuth sign-in's user).") }),
  ListUpstreamGrants.reply,
);
export const AdminRevokeUpstreamGrant = defineContract(
  'AdminRevokeUpstreamGrant',
  Subjects.admin.revokeUpstreamGrant,
  z.strictObject({
    server: z.string().min(1).describe('The per-user OAuth server (id or name).'),
    user_id: z.string().min(1).max(256),
    client_id: z.string().min(1).optional().describe("Only this client's approval (the tokens stay for the others)."),
  }),
  RevokeUpstreamGrant.reply,
);

/** Every public admin contract, in the order docs/nats-api.md lists them, with a one-line summary each. */
export const ADMIN_API: readonly { contract: Contract; summary: string; rest: string }[] = [
  { contract: AdminListServers, summary: 'Every MCP server, credentials masked.', rest: 'GET /v1/mcp/server' },
  { contract: AdminGetServer, summary: 'One MCP server by id or name.', rest: 'GET /v1/mcp/server/{id}' },
  { contract: AdminCreateServer, summary: 'Adds an MCP server (stdio servers need the master key or general_settings.mcp_stdio_allowed_commands).', rest: 'POST /v1/mcp/server' },
  { contract: AdminUpdateServer, summary: 'Changes the fields given; `null` clears an optional field.', rest: 'PUT /v1/mcp/server' },
  { contract: AdminDeleteServer, summary: 'Removes an MCP server added through the API.', rest: 'DELETE /v1/mcp/server/{id}' },
  { contract: AdminTestServer, summary: 'Connects to a stored server now and lists its tools; an unreachable server is `status: "unhealthy"` with the error, not an error reply.', rest: 'POST /v1/mcp/server/{id}/test' },
  { contract: AdminServerHealth, summary: 'The last catalog fetch of every server (or one).', rest: 'GET /v1/mcp/server/health' },
  { contract: AdminCreateKey, summary: 'Creates a virtual key; the reply holds the key itself, the only time it is shown.', rest: 'POST /key/generate' },
  { contract: AdminUpdateKey, summary: 'Changes a key (by key, token or alias); `null` clears a field.', rest: 'POST /key/update' },
  { contract: AdminDeleteKeys, summary: 'Deletes keys, all or nothing.', rest: 'POST /key/delete' },
  { contract: AdminGetKey, summary: 'One key (never the key itself).', rest: 'GET /key/info' },
  { contract: AdminListKeys, summary: 'Keys, paged, newest first.', rest: 'GET /key/list' },
  { contract: AdminCreateTeam, summary: 'Creates a team.', rest: 'POST /team/new' },
  { contract: AdminUpdateTeam, summary: 'Changes a team.', rest: 'POST /team/update' },
  { contract: AdminDeleteTeams, summary: 'Deletes teams that hold no keys, all or nothing.', rest: 'POST /team/delete' },
  { contract: AdminGetTeam, summary: 'One team and its keys.', rest: 'GET /team/info' },
  { contract: AdminListTeams, summary: 'Teams, optionally of one organization.', rest: 'GET /team/list' },
  { contract: AdminCreateOrganization, summary: 'Creates an organization.', rest: 'POST /organization/new' },
  { contract: AdminUpdateOrganization, summary: 'Changes an organization.', rest: 'POST /organization/update' },
  { contract: AdminDeleteOrganizations, summary: 'Deletes organizations that hold no teams, all or nothing.', rest: 'POST /organization/delete' },
  { contract: AdminGetOrganization, summary: 'One organization and its teams.', rest: 'GET /organization/info' },
  { contract: AdminListOrganizations, summary: 'Every organization.', rest: 'GET /organization/list' },
  { contract: AdminListTools, summary: "The tools the caller's key may use, with aggregate names.", rest: 'GET /mcp-rest/tools/list' },
  { contract: AdminCallTool, summary: "Calls a tool as the caller's key, under its permissions and rate limit.", rest: 'POST /mcp-rest/tools/call' },
  { contract: AdminExplainPermissions, summary: "A key's (or an OAuth access token's) effective servers and tools, and which level removed the others.", rest: 'GET /v1/mcp/permissions' },
  { contract: AdminQueryAudit, summary: 'The audit log of tool calls, newest first, filtered and paged.', rest: 'GET /v1/mcp/audit' },
  { contract: AdminListUpstreamGrants, summary: "A user's per-user upstream OAuth grants and the clients approved (never a token).", rest: 'GET /v1/mcp/oauth/grants?user_id=' },
  {
    contract: AdminRevokeUpstreamGrant,
    summary: "Withdraws one client's approval, or a user's whole grant (tokens revoked at the authorization server when it can be asked).",
    rest: 'DELETE /v1/mcp/oauth/{server}/grant?user_id=',
  },
];
