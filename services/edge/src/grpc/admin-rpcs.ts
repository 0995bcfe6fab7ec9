import {
  AdminCreateKey,
  AdminCreateOrganization,
  AdminCreateServer,
  AdminCreateTeam,
  AdminDeleteKeys,
  AdminDeleteOrganizations,
  AdminDeleteServer,
  AdminDeleteTeams,
  AdminExplainPermissions,
  AdminListUpstreamGrants,
  AdminRevokeUpstreamGrant,
  AdminGetKey,
  AdminGetOrganization,
  AdminGetServer,
  AdminGetTeam,
  AdminListKeys,
  AdminListOrganizations,
  AdminListServers,
  AdminListTeams,
  AdminQueryAudit,
  AdminServerHealth,
  AdminTestServer,
  AdminUpdateKey,
  AdminUpdateOrganization,
  AdminUpdateServer,
  AdminUpdateTeam,
  type Contract,
  type KeyInfo,
  type McpServerView,
  type ObjectPermission,
  type OrganizationInfo,
  type TeamInfo,
} from '#libs/contracts';

/**
 * How each RPC of proto/switchboard/admin/v1/admin.proto maps to a public admin contract: the decoded proto request
 * (field names as in JSON, absent fields absent) to the contract's JSON request, and the JSON reply to the proto
 * reply. Only what protobuf spells differently is converted: lists that may be null or set empty (StringList),
 * google.protobuf.Struct, the tool-permission map, and `clear` (fields reset to null or empty).
 */

type Json = Record<string, unknown>;
export interface AdminRpc {
  contract: Contract;
  request: (message: Json) => Json;
  reply: (reply: any) => Json;
}

// ---- google.protobuf.Struct / Value ----------------------------------------------------------------------------

type ProtoValue = { nullValue?: unknown; numberValue?: number; stringValue?: string; boolValue?: boolean; structValue?: { fields?: Record<string, ProtoValue> }; listValue?: { values?: ProtoValue[] } };

export function toStruct(value: Record<string, unknown> | null | undefined): { fields: Record<string, ProtoValue> } | undefined {
  if (value == null) return undefined;
  return { fields: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toValue(v)])) };
}

export function toValue(value: unknown): ProtoValue {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  return { structValue: toStruct(value as Record<string, unknown>) };
}

export function fromStruct(struct: { fields?: Record<string, ProtoValue> } | undefined): Record<string, unknown> | undefined {
  if (!struct) return undefined;
  return Object.fromEntries(Object.entries(struct.fields ?? {}).map(([k, v]) => [k, fromValue(v)]));
}

function fromValue(value: ProtoValue): unknown {
  if (value.structValue) return fromStruct(value.structValue);
  if (value.listValue) return (value.listValue.values ?? []).map(fromValue);
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.numberValue !== undefined) return value.numberValue;
  if (value.boolValue !== undefined) return value.boolValue;
  return null;
}

// ---- small conversions ---------------------------------------------------------------------------------------

const list = (v: unknown): string[] | undefined => (v && typeof v === 'object' ? ((v as { values?: string[] }).values ?? []) : undefined);
const listOut = (v: readonly string[] | null | undefined) => (v == null ? undefined : { values: [...v] });

type ProtoPermission = { mcp_servers?: string[]; mcp_access_groups?: string[]; mcp_tool_permissions?: Record<string, { values?: string[] }> };
function permissionIn(p: ProtoPermission | undefined): Json | undefined {
  if (!p) return undefined;
  return {
    mcp_servers: p.mcp_servers ?? [],
    mcp_access_groups: p.mcp_access_groups ?? [],
    mcp_tool_permissions: Object.fromEntries(Object.entries(p.mcp_tool_permissions ?? {}).map(([k, v]) => [k, v.values ?? []])),
  };
}
function permissionOut(p: ObjectPermission | null | undefined): Json | undefined {
  if (!p) return undefined;
  return { ...p, mcp_tool_permissions: Object.fromEntries(Object.entries(p.mcp_tool_permissions).map(([k, v]) => [k, { values: v }])) };
}

/** Drops undefined values, so that a strict schema sees absent fields as absent. */
function compact(body: Json): Json {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

/**
 * `clear: [...]` of an update: each named field is reset, to an empty list or map where the contract has no null
 * for it, else to null. Anything else (a typo) stays as given, so the contract's parse names it.
 */
function applyClear(body: Json, clear: unknown, empties: Record<string, [] | object>): Json {
  const out = { ...body };
  delete out.clear;
  for (const field of Array.isArray(clear) ? (clear as string[]) : []) {
    out[field] = field in empties ? (Array.isArray(empties[field]) ? [] : {}) : null;
  }
  return out;
}

const serverOut = (s: McpServerView): Json => ({ ...s, allowed_tools: listOut(s.allowed_tools), disallowed_tools: listOut(s.disallowed_tools) });
const keyOut = (k: KeyInfo & { key?: string }): Json => ({ ...k, metadata: toStruct(k.metadata), object_permission: permissionOut(k.object_permission) });
const teamOut = (t: TeamInfo): Json => ({ ...t, metadata: toStruct(t.metadata), object_permission: permissionOut(t.object_permission) });
const organizationOut = (o: OrganizationInfo & { teams?: TeamInfo[] }): Json => ({
  ...o,
  metadata: toStruct(o.metadata),
  object_permission: permissionOut(o.object_permission),
  ...(o.teams ? { teams: o.teams.map(teamOut) } : {}),
});
const identity = (m: Json): Json => m;
const withMetadata = (m: Json): Json =>
  compact({ ...m, metadata: fromStruct(m.metadata as never), object_permission: permissionIn(m.object_permission as ProtoPermission | undefined) });

/** service name -> RPC name -> mapping. */
export const ADMIN_RPCS: Record<string, Record<string, AdminRpc>> = {
  Servers: {
    ListServers: { contract: AdminListServers, request: () => ({}), reply: (r) => ({ servers: r.servers.map(serverOut) }) },
    GetServer: { contract: AdminGetServer, request: identity, reply: serverOut },
    CreateServer: {
      contract: AdminCreateServer,
      request: (m) => compact({ ...m, allowed_tools: list(m.allowed_tools), disallowed_tools: list(m.disallowed_tools) }),
      reply: serverOut,
    },
    UpdateServer: {
      contract: AdminUpdateServer,
      request: (m) =>
        applyClear(
          compact({
            ...m,
            args: list(m.args),
            extra_headers: list(m.extra_headers),
            access_groups: list(m.access_groups),
            allowed_tools: list(m.allowed_tools),
            disallowed_tools: list(m.disallowed_tools),
          }),
          m.clear,
          { args: [], extra_headers: [], access_groups: [], env: {}, static_headers: {} },
        ),
      reply: serverOut,
    },
    DeleteServer: { contract: AdminDeleteServer, request: identity, reply: identity },
    TestServer: { contract: AdminTestServer, request: identity, reply: (r) => ({ ...r, server_info: toStruct(r.server_info) }) },
    GetServerHealth: { contract: AdminServerHealth, request: identity, reply: identity },
  },
  Keys: {
    CreateKey: { contract: AdminCreateKey, request: withMetadata, reply: keyOut },
    UpdateKey: {
      contract: AdminUpdateKey,
      request: (m) => applyClear(withMetadata({ ...m, models: list(m.models) }), m.clear, { models: [], metadata: {} }),
      reply: keyOut,
    },
    DeleteKeys: { contract: AdminDeleteKeys, request: identity, reply: identity },
    GetKey: { contract: AdminGetKey, request: identity, reply: (r) => keyOut(r.info) },
    ListKeys: { contract: AdminListKeys, request: (m) => ({ ...m, return_full_object: true }), reply: (r) => ({ ...r, keys: r.keys.map(keyOut) }) },
  },
  Teams: {
    CreateTeam: { contract: AdminCreateTeam, request: withMetadata, reply: teamOut },
    UpdateTeam: {
      contract: AdminUpdateTeam,
      request: (m) => applyClear(withMetadata({ ...m, models: list(m.models) }), m.clear, { models: [], metadata: {} }),
      reply: teamOut,
    },
    DeleteTeams: { contract: AdminDeleteTeams, request: identity, reply: identity },
    GetTeam: { contract: AdminGetTeam, request: identity, reply: (r) => ({ team_id: r.team_id, team_info: teamOut(r.team_info), keys: r.keys.map(keyOut) }) },
    ListTeams: { contract: AdminListTeams, request: identity, reply: (r) => ({ teams: r.teams.map(teamOut) }) },
  },
  Organizations: {
    CreateOrganization: { contract: AdminCreateOrganization, request: withMetadata, reply: organizationOut },
    UpdateOrganization: {
      contract: AdminUpdateOrganization,
      request: (m) => applyClear(withMetadata(m), m.clear, { metadata: {} }),
      reply: organizationOut,
    },
    DeleteOrganizations: { contract: AdminDeleteOrganizations, request: identity, reply: identity },
    GetOrganization: { contract: AdminGetOrganization, request: identity, reply: organizationOut },
    ListOrganizations: { contract: AdminListOrganizations, request: () => ({}), reply: (r) => ({ organizations: r.organizations.map(organizationOut) }) },
  },
  Permissions: {
    ExplainPermissions: {
      contract: AdminExplainPermissions,
      request: identity,
      reply: (r) => ({
        ...r,
        levels: { key: permissionOut(r.levels.key), team: permissionOut(r.levels.team), organization: permissionOut(r.levels.organization) },
        ...(r.token ? { token: { ...r.token, claims: toStruct(r.token.claims), audience: toValue(r.token.audience) } } : {}),
      }),
    },
  },
  UpstreamGrants: {
    ListUpstreamGrants: { contract: AdminListUpstreamGrants, request: identity, reply: identity },
    RevokeUpstreamGrant: { contract: AdminRevokeUpstreamGrant, request: identity, reply: identity },
  },
  Audit: {
    QueryAudit: { contract: AdminQueryAudit, request: identity, reply: identity },
  },
};
