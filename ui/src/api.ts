// The REST API of this gateway, same origin. The key the user signed in with lives in sessionStorage only (gone
// when the tab closes, never in a URL) and is sent as LiteLLM's x-litellm-api-key header.

const KEY_ITEM = 'switchboard.admin.key';

export const session = {
  key(): string | null {
    return sessionStorage.getItem(KEY_ITEM);
  },
  signIn(key: string): void {
    sessionStorage.setItem(KEY_ITEM, key);
  },
  signOut(): void {
    sessionStorage.removeItem(KEY_ITEM);
    window.dispatchEvent(new Event('switchboard:signed-out'));
  },
};

/** An error answer of the API: its message, and the message for each field it names. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly fields: Record<string, string>,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The message for a field, also when the API named a part of it (`object_permission.mcp_servers.0`). */
  field(name: string): string | undefined {
    if (this.fields[name]) return this.fields[name];
    const nested = Object.keys(this.fields).find((path) => path.startsWith(`${name}.`));
    return nested ? this.fields[nested] : undefined;
  }
}

/**
 * Field messages from the API's error body: `details.fields` (a body that failed validation), `details.field`
 * (a rule of the service), else the `field: message` lines of the message itself.
 */
export function fieldsOf(message: string, details: Record<string, unknown>): Record<string, string> {
  const fields: Record<string, string> = {};
  if (Array.isArray(details.fields)) {
    for (const item of details.fields as { path?: unknown; message?: unknown }[]) {
      if (typeof item.path === 'string' && typeof item.message === 'string') fields[item.path || 'form'] ??= item.message;
    }
  }
  if (typeof details.field === 'string') {
    fields[details.field] ??= message.startsWith(`${details.field}: `) ? message.slice(details.field.length + 2) : message;
  }
  if (Object.keys(fields).length === 0) {
    for (const line of message.split('\n')) {
      const match = /^([a-z_][a-z0-9_.]*): (.+)$/.exec(line);
      if (match) fields[match[1]!] ??= match[2]!;
    }
  }
  return fields;
}

export interface RequestOptions {
  /** Use this key instead of the signed-in one (signing in). */
  key?: string;
  signal?: AbortSignal;
}

export async function api<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
  const key = options.key ?? session.key();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (key) headers['x-litellm-api-key'] = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: options.signal, cache: 'no-store' });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, `the gateway did not answer: ${(error as Error).message}`, 'network', {});
  }
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (response.ok) return parsed as T;
  const error = (parsed as { error?: { message?: unknown; type?: unknown; details?: unknown } } | undefined)?.error;
  const message = typeof error?.message === 'string' ? error.message : `${response.status} ${response.statusText}`;
  const details = error?.details && typeof error.details === 'object' ? (error.details as Record<string, unknown>) : {};
  const failure = new ApiError(response.status, message, typeof error?.type === 'string' ? error.type : 'error', fieldsOf(message, details), details);
  // The signed-in key stopped working (deleted, blocked, expired): back to the sign-in page.
  if (response.status === 401 && options.key === undefined && key) session.signOut();
  return Promise.reject(failure);
}

export const get = <T>(path: string, options?: RequestOptions) => api<T>('GET', path, undefined, options);
export const post = <T>(path: string, body: unknown, options?: RequestOptions) => api<T>('POST', path, body, options);
export const put = <T>(path: string, body: unknown) => api<T>('PUT', path, body);
export const del = <T>(path: string) => api<T>('DELETE', path);

export const query = (params: Record<string, string | number | undefined | null>) => {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
};

// ---- the shapes the UI reads (the API's own names) ----------------------------------------------------------
export type Transport = 'http' | 'sse' | 'stdio';
export type AuthType = 'none' | 'api_key' | 'bearer_token' | 'basic' | 'authorization' | 'oauth2' | 'oauth2_token_exchange';
export type OAuth2Flow = 'client_credentials' | 'authorization_code';
export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

/** OAuth toward the upstream (auth_type oauth2 / oauth2_token_exchange); absent is the same as null. */
export interface ServerOAuthSettings {
  oauth2_flow?: OAuth2Flow | null;
  client_id?: string | null;
  /** Masked like auth_value (`****` and, for long ones, the last 4 characters); null when none is stored. */
  client_secret?: string | null;
  token_url?: string | null;
  authorization_url?: string | null;
  scopes?: string[] | null;
  token_endpoint_auth_method?: TokenEndpointAuthMethod | null;
  issuer?: string | null;
  token_exchange_endpoint?: string | null;
  audience?: string | null;
  subject_token_type?: string | null;
}

export interface ServerView extends ServerOAuthSettings {
  server_id: string;
  server_name: string;
  alias: string | null;
  description: string | null;
  url: string | null;
  transport: Transport;
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
  source: 'config' | 'api';
  created_at: string;
  updated_at: string;
}

export interface ServerHealth {
  server_id: string;
  server_name: string;
  status: 'healthy' | 'unhealthy' | 'unknown';
  error: string | null;
  tool_count: number;
  last_checked: string | null;
  protocol_version?: string | null;
}

export interface Tool {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: JsonSchema;
  mcp_info?: { server_id: string; server_name: string; tool_name: string };
}

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  items?: JsonSchema;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  format?: string;
}

export interface ObjectPermission {
  mcp_servers: string[];
  mcp_access_groups: string[];
  mcp_tool_permissions: Record<string, string[]>;
}

export interface KeyInfo {
  token: string;
  key_name: string;
  key_alias: string | null;
  team_id: string | null;
  organization_id: string | null;
  user_id: string | null;
  expires: string | null;
  blocked: boolean;
  rpm_limit: number | null;
  max_parallel_requests: number | null;
  object_permission: ObjectPermission | null;
  models: string[];
  is_admin: boolean;
  created_at: string;
  updated_at: string;
}

/** A user's grant on a per-user OAuth server (GET /v1/mcp/oauth/grants): never a token. */
export interface UpstreamGrant {
  server_id: string;
  server_name: string;
  has_token: boolean;
  scope: string | null;
  expires_at: string | null;
  authorized_at: string | null;
  clients: { client_id: string; client_name: string | null; approved_at: string }[];
}

export interface TeamInfo {
  team_id: string;
  team_alias: string | null;
  organization_id: string | null;
  object_permission: ObjectPermission | null;
  rpm_limit: number | null;
  max_parallel_requests: number | null;
  blocked: boolean;
  created_at: string;
}

export interface OrganizationInfo {
  organization_id: string;
  organization_alias: string;
  object_permission: ObjectPermission | null;
  rpm_limit: number | null;
  created_at: string;
}

export interface AuditRow {
  id: string;
  time: string;
  key_alias: string | null;
  token_hash_prefix: string | null;
  team_id: string | null;
  organization_id: string | null;
  server_name: string;
  tool: string;
  status: string;
  duration_ms: number;
  error_code: string | null;
  session_id: string | null;
}

export interface CallToolResult {
  content?: { type: string; text?: string; data?: string; mimeType?: string; resource?: { uri?: string; text?: string } }[];
  structuredContent?: unknown;
  isError?: boolean;
}
