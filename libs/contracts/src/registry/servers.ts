import { z } from 'zod';
import { defineContract, defineEvent } from '../contract.js';
import { Subjects } from '../subjects.js';
import { checkOAuth2Spec, OAuth2ServerFields, OAuth2SettingsFields, OAUTH2_FIELD_NAMES } from './upstream-oauth.js';

export const SERVER_NAME_PATTERN = /^[a-z0-9_]+$/;
export const ServerName = z
  .string()
  .max(48, 'expected at most 48 characters')
  .regex(SERVER_NAME_PATTERN, 'expected lowercase letters, digits and _ only ([a-z0-9_]+)');

export const McpTransport = z.enum(['sse', 'http', 'stdio']);
export type McpTransport = z.infer<typeof McpTransport>;
export const AuthType = z.enum(['none', 'api_key', 'bearer_token', 'basic', 'authorization', 'oauth2', 'oauth2_token_exchange']);
export type AuthType = z.infer<typeof AuthType>;
export const ProtocolVersion = z.enum(['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05']);

const HeaderMap = z.record(z.string(), z.string());

/** The fields of one MCP server as config.yaml and the admin API accept them (LiteLLM's names). */
export const McpServerFields = {
  url: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }).optional(),
  /** Missing: inferred from the URL (inferTransport). */
  transport: McpTransport.optional(),
  command: z.string().min(1).optional(),
  args: z.array(z.string()).default([]),
  env: HeaderMap.default({}),
  description: z.string().max(2000).optional(),
  alias: z.string().max(100).optional(),
  auth_type: AuthType.default('none'),
  auth_value: z.string().optional(),
  static_headers: HeaderMap.default({}),
  extra_headers: z.array(z.string()).default([]),
  allowed_tools: z.array(z.string()).optional(),
  disallowed_tools: z.array(z.string()).optional(),
  access_groups: z.array(z.string().min(1)).default([]),
  allow_all_keys: z.boolean().default(false),
  timeout: z.number().positive().max(3600).optional(),
  max_concurrent_requests: z.number().int().positive().max(10_000).optional(),
  spec_version: ProtocolVersion.optional(),
  /** auth_type oauth2 / oauth2_token_exchange (upstream-oauth.ts). */
  ...OAuth2ServerFields,
};

/**
 * The transport of a server that names none (SPEC section 2): `http` (Streamable HTTP) when the URL's path ends in
 * `/mcp`, otherwise `sse`, LiteLLM's default (a path ending in `/sse` included).
 */
export function inferTransport(url: string | null | undefined): 'http' | 'sse' {
  if (!url) return 'sse';
  try {
    return new URL(url).pathname.replace(/\/+$/, '').endsWith('/mcp') ? 'http' : 'sse';
  } catch {
    return 'sse';
  }
}

type SpecShape = { transport?: string; url?: string; command?: string; allowed_tools?: unknown; disallowed_tools?: unknown; auth_type?: string } & Parameters<typeof checkOAuth2Spec>[0];
/** Cross-field rules shared by config and API: a URL for sse/http, a command for stdio, one tool filter. */
export function checkServerSpec(spec: SpecShape, ctx: z.RefinementCtx): void {
  if (spec.transport === 'stdio' && !spec.command) {
    ctx.addIssue({ code: 'custom', path: ['command'], message: 'required when transport is stdio' });
  }
  if (spec.transport !== 'stdio' && !spec.url) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: spec.transport ? `required when transport is ${spec.transport}` : 'required (or transport: stdio with a command)' });
  }
  if (spec.allowed_tools && spec.disallowed_tools) {
    ctx.addIssue({ code: 'custom', path: ['disallowed_tools'], message: 'set allowed_tools or disallowed_tools, not both' });
  }
  checkOAuth2Spec(spec, ctx);
}

/** One entry under `mcp_servers:` in config.yaml (the key is the name). */
export const McpServerSpec = z.strictObject(McpServerFields).superRefine(checkServerSpec);
export type McpServerSpec = z.infer<typeof McpServerSpec>;

/**
 * Who asks for a change of the registry, set by the edge from the caller's key (never from the body): stdio
 * servers need the master key, or a command in general_settings.mcp_stdio_allowed_commands. Missing = 'admin'.
 */
export const ServerChangeCaller = z.enum(['master', 'admin']);
export type ServerChangeCaller = z.infer<typeof ServerChangeCaller>;

const CreateServerFields = {
  server_id: z.uuid().optional(),
  server_name: ServerName,
  mcp_access_groups: z.array(z.string().min(1)).optional(),
  ...McpServerFields,
};
/** POST /v1/mcp/server: LiteLLM's body, `mcp_access_groups` accepted for `access_groups`. */
export const CreateServerRequest = z.strictObject(CreateServerFields).superRefine(checkServerSpec);
export type CreateServerRequest = z.infer<typeof CreateServerRequest>;
/** The CreateServer bus request: the body and who sent it. */
export const CreateServerCall = z.strictObject({ ...CreateServerFields, caller: ServerChangeCaller.optional() }).superRefine(checkServerSpec);
export type CreateServerCall = z.infer<typeof CreateServerCall>;

/** Fields an update may clear by sending `null` (PUT /v1/mcp/server). */
export const CLEARABLE_SERVER_FIELDS = [
  'url',
  'command',
  'description',
  'alias',
  'auth_value',
  'allowed_tools',
  'disallowed_tools',
  'timeout',
  'max_concurrent_requests',
  'spec_version',
  ...OAUTH2_FIELD_NAMES,
] as const;
type ClearableField = (typeof CLEARABLE_SERVER_FIELDS)[number];
type WithoutDefault<T> = T extends z.ZodDefault<infer Inner> ? Inner : T;
type UpdateField<K extends keyof typeof McpServerFields> = z.ZodOptional<
  K extends ClearableField ? z.ZodNullable<WithoutDefault<(typeof McpServerFields)[K]>> : WithoutDefault<(typeof McpServerFields)[K]>
>;

/**
 * PUT /v1/mcp/server: the id (or name) and the fields to change. Defaults are not applied here, so a field left
 * out keeps its stored value; `null` clears an optional field.
 */
export const UpdateServerRequest = z.strictObject({
  server_id: z.string().min(1),
  server_name: ServerName.optional(),
  mcp_access_groups: z.array(z.string().min(1)).optional(),
  ...Object.fromEntries(
    Object.entries(McpServerFields).map(([k, v]) => {
      const inner = v instanceof z.ZodDefault ? (v.unwrap() as z.ZodType) : (v as z.ZodType);
      const base = inner instanceof z.ZodOptional ? (inner.unwrap() as z.ZodType) : inner;
      return [k, ((CLEARABLE_SERVER_FIELDS as readonly string[]).includes(k) ? base.nullable() : base).optional()];
    }),
  ),
} as { server_id: z.ZodString; server_name: z.ZodOptional<typeof ServerName>; mcp_access_groups: z.ZodOptional<z.ZodArray<z.ZodString>> } & {
  [K in keyof typeof McpServerFields]: UpdateField<K>;
});
export type UpdateServerRequest = z.infer<typeof UpdateServerRequest>;
/** The UpdateServer bus request: the body and who sent it. */
export const UpdateServerCall = UpdateServerRequest.extend({ caller: ServerChangeCaller.optional() });
export type UpdateServerCall = z.infer<typeof UpdateServerCall>;

/** What the admin API returns: credentials masked, never in full. */
export const McpServerView = z.object({
  server_id: z.string(),
  server_name: z.string(),
  alias: z.string().nullable(),
  description: z.string().nullable(),
  url: z.string().nullable(),
  transport: McpTransport,
  command: z.string().nullable(),
  args: z.array(z.string()),
  env: HeaderMap,
  auth_type: AuthType,
  auth_value: z.string().nullable(),
  static_headers: HeaderMap,
  extra_headers: z.array(z.string()),
  allowed_tools: z.array(z.string()).nullable(),
  disallowed_tools: z.array(z.string()).nullable(),
  access_groups: z.array(z.string()),
  mcp_access_groups: z.array(z.string()),
  allow_all_keys: z.boolean(),
  timeout: z.number().nullable(),
  max_concurrent_requests: z.number().nullable(),
  spec_version: z.string().nullable(),
  /** The OAuth settings; `client_secret` masked like `auth_value`. */
  ...OAuth2SettingsFields,
  source: z.enum(['config', 'api']),
  created_at: z.string(),
  updated_at: z.string(),
});
export type McpServerView = z.infer<typeof McpServerView>;

/** What a connector needs to reach the upstream, secrets decrypted. Only connectors ask for it. */
export const McpServerRuntime = z.object({
  server_id: z.string(),
  server_name: z.string(),
  transport: McpTransport,
  url: z.string().nullable(),
  command: z.string().nullable(),
  args: z.array(z.string()),
  env: HeaderMap,
  auth_type: AuthType,
  auth_value: z.string().nullable(),
  static_headers: HeaderMap,
  extra_headers: z.array(z.string()),
  timeout: z.number().nullable(),
  max_concurrent_requests: z.number().nullable(),
  spec_version: z.string().nullable(),
  /** The OAuth settings, `client_secret` in clear. */
  ...OAuth2SettingsFields,
  /**
   * general_settings.mcp_blocked_ip_ranges / mcp_allowed_ip_ranges as the registry has them: the connector checks
   * the address it connects to with these, so a name that resolves elsewhere after registration gets no further.
   */
  ip_ranges: z.object({ blocked: z.array(z.string()), allowed: z.array(z.string()) }).optional(),
  /** Changes whenever the definition changes: a connector re-connects when it differs. */
  revision: z.string(),
});
export type McpServerRuntime = z.infer<typeof McpServerRuntime>;

export const ServerRef = z.object({ server: z.string().min(1) });

export const ListServers = defineContract(
  'ListServers',
  Subjects.registry.listServers,
  z.object({}),
  z.object({ servers: z.array(McpServerView) }),
);
export const GetServer = defineContract('GetServer', Subjects.registry.getServer, ServerRef, McpServerView);
export const CreateServer = defineContract('CreateServer', Subjects.registry.createServer, CreateServerCall, McpServerView);
export const UpdateServer = defineContract('UpdateServer', Subjects.registry.updateServer, UpdateServerCall, McpServerView);
export const DeleteServer = defineContract(
  'DeleteServer',
  Subjects.registry.deleteServer,
  ServerRef,
  z.object({ server_id: z.string(), server_name: z.string(), deleted: z.literal(true) }),
);
export const ResolveServer = defineContract(
  'ResolveServer',
  Subjects.registry.resolveServer,
  z.object({ server_id: z.string().min(1) }),
  McpServerRuntime,
);

export const ServerHealth = z.object({
  server_id: z.string(),
  server_name: z.string(),
  status: z.enum(['healthy', 'unhealthy', 'unknown']),
  error: z.string().nullable(),
  tool_count: z.number(),
  last_checked: z.string().nullable(),
  /** The protocol revision the upstream chose when last fetched (null: not reached). */
  protocol_version: z.string().nullable().default(null),
});
export type ServerHealth = z.infer<typeof ServerHealth>;
export const GetServerHealth = defineContract(
  'GetServerHealth',
  Subjects.registry.serverHealth,
  z.object({ server: z.string().optional() }),
  z.object({ servers: z.array(ServerHealth) }),
);

export const ListAccessGroups = defineContract(
  'ListAccessGroups',
  Subjects.registry.listAccessGroups,
  z.object({}),
  z.object({ access_groups: z.array(z.object({ name: z.string(), servers: z.array(z.string()) })) }),
);

export const ServersChanged = defineEvent(
  'ServersChanged',
  Subjects.registry.serversChanged,
  z.object({ server_id: z.string(), server_name: z.string(), change: z.enum(['created', 'updated', 'deleted']) }),
);

const TestServerFields = { ...CreateServerFields, server_name: ServerName.optional() };
/**
 * POST /mcp-rest/test/connection and /mcp-rest/test/tools/list (LiteLLM's paths): an UNSAVED server, the create body
 * with the name optional. With the `server_id` of a stored server and no `auth_value`, the stored credential is used
 * (the admin API never returns it, so an edit form cannot send it back).
 */
export const TestServerRequest = z.strictObject(TestServerFields).superRefine(checkServerSpec);
export type TestServerRequest = z.infer<typeof TestServerRequest>;
export const CheckServerCall = z.strictObject({ ...TestServerFields, caller: ServerChangeCaller.optional() }).superRefine(checkServerSpec);
export type CheckServerCall = z.infer<typeof CheckServerCall>;
/**
 * The registry checks an unsaved definition exactly as it checks a create (fields, the URL guard, the stdio rules for
 * `caller`) and stores nothing; the reply is the definition as a connector needs it, under a one-off `probe-…` id.
 */
export const CheckServer = defineContract('CheckServer', Subjects.registry.checkServer, CheckServerCall, McpServerRuntime);
