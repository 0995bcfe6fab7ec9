import type { z } from 'zod';
import {
  checkServerSpec,
  DomainError,
  inferTransport,
  type AuthType,
  type CreateServerRequest,
  type McpServerRuntime,
  type McpServerSpec,
  type McpServerView,
  type McpTransport,
  type OAuth2Settings,
  OAUTH2_FIELD_NAMES,
  type UpdateServerRequest,
} from '#libs/contracts';
import { maskEnv, maskSecret } from './credential-cipher.js';

/** One MCP server as the registry reasons about it: every field resolved, secrets in clear (memory only). */
export interface ServerDefinition extends OAuth2Settings {
  server_name: string;
  alias: string | null;
  description: string | null;
  url: string | null;
  transport: McpTransport;
  command: string | null;
  args: string[];
  env: Record<string, string>;
  auth_type: AuthType;
  auth_value: string | null;
  static_headers: Record<string, string>;
  extra_headers: string[];
  allowed_tools: string[] | null;
  disallowed_tools: string[] | null;
  access_groups: string[];
  allow_all_keys: boolean;
  timeout: number | null;
  max_concurrent_requests: number | null;
  spec_version: string | null;
}

export type ServerSource = 'config' | 'api';

/** A stored server: its definition plus identity and bookkeeping. */
export interface ServerRecord extends ServerDefinition {
  id: string;
  source: ServerSource;
  created_at: Date;
  updated_at: Date;
}

type SpecFields = Omit<McpServerSpec, never>;

function fromFields(server_name: string, spec: SpecFields, accessGroups?: string[]): ServerDefinition {
  return {
    server_name,
    alias: spec.alias ?? null,
    description: spec.description ?? null,
    url: spec.url ?? null,
    transport: spec.transport ?? inferTransport(spec.url),
    command: spec.command ?? null,
    args: [...spec.args],
    env: { ...spec.env },
    auth_type: spec.auth_type,
    auth_value: spec.auth_value ?? null,
    static_headers: { ...spec.static_headers },
    extra_headers: [...spec.extra_headers],
    allowed_tools: spec.allowed_tools ? [...spec.allowed_tools] : null,
    disallowed_tools: spec.disallowed_tools ? [...spec.disallowed_tools] : null,
    access_groups: [...(accessGroups ?? spec.access_groups)],
    allow_all_keys: spec.allow_all_keys,
    timeout: spec.timeout ?? null,
    max_concurrent_requests: spec.max_concurrent_requests ?? null,
    spec_version: spec.spec_version ?? null,
    ...oauth2Of(spec),
  };
}

/** The OAuth fields, each null when absent. */
function oauth2Of(spec: Partial<Record<keyof OAuth2Settings, unknown>>): OAuth2Settings {
  return Object.fromEntries(OAUTH2_FIELD_NAMES.map((k) => [k, spec[k] === undefined ? null : structuredClone(spec[k])])) as unknown as OAuth2Settings;
}

/** A server from config.yaml (`mcp_servers.<name>`). */
export function definitionFromSpec(name: string, spec: McpServerSpec): ServerDefinition {
  return fromFields(name, spec);
}

/** A server from POST /v1/mcp/server; `mcp_access_groups` is LiteLLM's name for `access_groups`. */
export function definitionFromCreate(request: CreateServerRequest): ServerDefinition {
  const groups = request.access_groups.length > 0 ? request.access_groups : (request.mcp_access_groups ?? []);
  return fromFields(request.server_name, request, groups);
}

/**
 * PUT semantics: a field that is present replaces the stored one, `null` clears it, a missing field keeps it.
 * The merged result is validated again (cross-field rules) and an INVALID_ARGUMENT names the first bad field.
 */
export function mergeUpdate(current: ServerDefinition, request: UpdateServerRequest): ServerDefinition {
  const merged = structuredClone(pickDefinition(current));
  const patch = { ...request } as Record<string, unknown>;
  if (patch.access_groups === undefined && patch.mcp_access_groups !== undefined) patch.access_groups = patch.mcp_access_groups;
  const target = merged as unknown as Record<string, unknown>;
  for (const key of DEFINITION_KEYS) {
    const value = patch[key];
    if (value === undefined) continue;
    target[key] = value === null ? null : structuredClone(value);
  }
  assertValidDefinition(merged);
  return merged;
}

/** The rules shared with config and create (URL for sse/http, command for stdio, one tool filter). */
export function assertValidDefinition(definition: ServerDefinition): void {
  const issues: { path: PropertyKey[]; message: string }[] = [];
  const ctx = { addIssue: (issue: { path?: PropertyKey[]; message?: string }) => issues.push({ path: issue.path ?? [], message: issue.message ?? 'invalid' }) };
  checkServerSpec(
    {
      transport: definition.transport,
      url: definition.url ?? undefined,
      command: definition.command ?? undefined,
      allowed_tools: definition.allowed_tools ?? undefined,
      disallowed_tools: definition.disallowed_tools ?? undefined,
      auth_type: definition.auth_type,
      ...Object.fromEntries(OAUTH2_FIELD_NAMES.map((k) => [k, definition[k] ?? undefined])),
    },
    ctx as unknown as z.RefinementCtx,
  );
  const first = issues[0];
  if (first) {
    const field = String(first.path[0] ?? '');
    throw new DomainError(
      'INVALID_ARGUMENT',
      issues.map((i) => `${String(i.path[0] ?? '')}: ${i.message}`).join('\n'),
      { field, issues: issues.map((i) => ({ path: String(i.path[0] ?? ''), message: i.message })) },
    );
  }
}

/** Canonical JSON (sorted keys) so that two definitions compare by content. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** Only the definition's fields (a ServerRecord also carries id, source and times). */
export function pickDefinition(d: ServerDefinition): ServerDefinition {
  return Object.fromEntries(DEFINITION_KEYS.map((k) => [k, d[k]])) as unknown as ServerDefinition;
}

export function sameDefinition(a: ServerDefinition, b: ServerDefinition): boolean {
  return canonicalJson(pickDefinition(a)) === canonicalJson(pickDefinition(b));
}

export const DEFINITION_KEYS: readonly (keyof ServerDefinition)[] = [
  'server_name', 'alias', 'description', 'url', 'transport', 'command', 'args', 'env', 'auth_type', 'auth_value',
  'static_headers', 'extra_headers', 'allowed_tools', 'disallowed_tools', 'access_groups', 'allow_all_keys',
  'timeout', 'max_concurrent_requests', 'spec_version', ...OAUTH2_FIELD_NAMES,
];

/** What the admin API shows: credentials masked, env values hidden. */
export function toView(record: ServerRecord): McpServerView {
  return {
    server_id: record.id,
    server_name: record.server_name,
    alias: record.alias,
    description: record.description,
    url: record.url,
    transport: record.transport,
    command: record.command,
    args: record.args,
    env: maskEnv(record.env),
    auth_type: record.auth_type,
    auth_value: maskSecret(record.auth_value),
    static_headers: record.static_headers,
    extra_headers: record.extra_headers,
    allowed_tools: record.allowed_tools,
    disallowed_tools: record.disallowed_tools,
    access_groups: record.access_groups,
    mcp_access_groups: record.access_groups,
    allow_all_keys: record.allow_all_keys,
    timeout: record.timeout,
    max_concurrent_requests: record.max_concurrent_requests,
    spec_version: record.spec_version,
    ...oauth2Of(record),
    client_secret: maskSecret(record.client_secret),
    source: record.source,
    created_at: record.created_at.toISOString(),
    updated_at: record.updated_at.toISOString(),
  };
}

/** What a connector needs, secrets in clear, and the IP ranges to check; `revision` changes on every update. */
export function toRuntime(record: ServerRecord, ipRanges?: McpServerRuntime['ip_ranges']): McpServerRuntime {
  return {
    server_id: record.id,
    server_name: record.server_name,
    transport: record.transport,
    url: record.url,
    command: record.command,
    args: record.args,
    env: record.env,
    auth_type: record.auth_type,
    auth_value: record.auth_value,
    static_headers: record.static_headers,
    extra_headers: record.extra_headers,
    timeout: record.timeout,
    max_concurrent_requests: record.max_concurrent_requests,
    spec_version: record.spec_version,
    ...oauth2Of(record),
    ...(ipRanges ? { ip_ranges: ipRanges } : {}),
    revision: `${record.updated_at.toISOString()}:${record.id}`,
  };
}
