import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { Duration } from './duration.js';
import { McpServerSpec, SERVER_NAME_PATTERN } from '#libs/contracts';
import { parseIpRange, UpstreamUrlGuard, UpstreamUrlRefused } from '#libs/net-guard';
import { ConfigError, issuesToProblems } from './config-error.js';
import { JwtAuthSettings, jwtAuthProblems, PublicBaseUrl, takeIgnoredJwtAuthKeys } from './jwt-auth-config.js';

/**
 * LiteLLM keys Switchboard accepts but does not act on yet. They are named once in a start-up warning;
 * anything else unknown is an error, so a typo never silently does nothing.
 */
export const LITELLM_KEYS_NOT_IMPLEMENTED = {
  root: ['litellm_settings', 'router_settings', 'environment_variables', 'guardrails', 'credential_list', 'callback_settings', 'files_settings', 'vector_store_registry', 'assistant_settings'],
  general_settings: ['database_url', 'store_model_in_db', 'supported_db_objects', 'alerting', 'alerting_threshold', 'proxy_batch_write_at', 'database_connection_pool_limit', 'disable_spend_logs', 'allow_requests_on_db_unavailable', 'ui_access_mode', 'custom_auth', 'litellm_key_header_name', 'max_request_size_mb', 'background_health_checks', 'health_check_interval'],
  mcp_server: ['mcp_info', 'authentication_token', 'registration_url'],
} as const;

const ModelEntry = z.strictObject({
  model_name: z.string().min(1),
  litellm_params: z.looseObject({
    model: z.string().min(1),
    api_key: z.string().optional(),
    api_base: z.string().optional(),
  }),
  model_info: z.record(z.string(), z.unknown()).optional(),
});
export type ModelEntry = z.infer<typeof ModelEntry>;

const IpRangeList = z.array(
  z.string().superRefine((text, ctx) => {
    const range = parseIpRange(text);
    if (typeof range === 'string') ctx.addIssue({ code: 'custom', message: range });
  }),
);

const GeneralSettings = z.strictObject({
  master_key: z.string().min(1).optional(),
  /** Browser origins allowed on /mcp besides loopback ones (MCP's DNS-rebinding protection). */
  allowed_origins: z.array(z.string()).optional(),
  /** Host header values the edge accepts (with ALLOWED_HOSTS; DNS-rebinding protection). */
  allowed_hosts: z.array(z.string()).optional(),
  /** Upstream URLs whose address is in these ranges are refused (link-local and metadata addresses always are). */
  mcp_blocked_ip_ranges: IpRangeList.default([]),
  /** Holes in mcp_blocked_ip_ranges. */
  mcp_allowed_ip_ranges: IpRangeList.default([]),
  /** stdio servers admin keys may add or change (command names or paths, matched exactly); else config and master key only. */
  mcp_stdio_allowed_commands: z.array(z.string().min(1)).default([]),
  /** MCP server URLs an LLM request's `{"type": "mcp"}` tool may name besides this gateway (matched exactly). */
  allowed_remote_mcp_server_urls: z.array(z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' })).optional(),
  /** How long audit-log rows are kept (e.g. 90d); unset keeps them. */
  mcp_audit_log_retention_period: Duration.optional(),
  /** LiteLLM's name: how long usage rows and stored responses of the LLM proxy are kept (e.g. 30d); unset keeps them. */
  maximum_spend_logs_retention_period: Duration.optional(),
  /** LiteLLM's name: how often the retention cleanup runs (1h by default). */
  maximum_spend_logs_retention_interval: Duration.optional(),
  /**
   * A client's own upstream session (it declared sampling, elicitation or roots, subscribed, set a log level) is
   * closed after this long without requests (10m by default).
   */
  mcp_client_session_idle_timeout: Duration.optional(),
  /** Per-client stdio processes per server and connector replica (4 by default); past it such clients share one. */
  mcp_max_client_stdio_sessions: z.number().int().min(0).optional(),
  /** LiteLLM's name: the MCP endpoints also accept JWT access tokens of litellm_jwtauth's issuers (SPEC section 3). */
  enable_jwt_auth: z.boolean().optional(),
  /** LiteLLM's name: the issuers trusted, audiences, claim mapping and scopes (jwt-auth-config.ts). */
  litellm_jwtauth: JwtAuthSettings.optional(),
  /** The gateway's public URL, for canonical resource URIs (RFC 8707); unset: the request's Host. */
  public_base_url: PublicBaseUrl.optional(),
});
export type GeneralSettings = z.infer<typeof GeneralSettings>;

export const GatewayConfig = z.strictObject({
  model_list: z.array(ModelEntry).default([]),
  mcp_servers: z.record(z.string(), McpServerSpec).default({}),
  general_settings: GeneralSettings.prefault({}),
});
export type GatewayConfig = z.infer<typeof GatewayConfig>;

export interface LoadedConfig {
  config: GatewayConfig;
  /** LiteLLM keys that were present but are not implemented: warn about them once. */
  ignoredKeys: string[];
}

const ENV_REFERENCE = /^os\.environ\/([A-Za-z_][A-Za-z0-9_]*)$/;

/** Replaces every `os.environ/NAME` string with the variable's value; a missing variable is a problem. */
function resolveEnvReferences(node: unknown, env: NodeJS.ProcessEnv, path: string, problems: string[]): unknown {
  if (typeof node === 'string') {
    const match = ENV_REFERENCE.exec(node.trim());
    if (!match) return node;
    const value = env[match[1]!];
    if (value === undefined) problems.push(`${path}: environment variable ${match[1]} is not set`);
    return value ?? node;
  }
  if (Array.isArray(node)) return node.map((item, i) => resolveEnvReferences(item, env, `${path}.${i}`, problems));
  if (node && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [key, resolveEnvReferences(value, env, path ? `${path}.${key}` : key, problems)]),
    );
  }
  return node;
}

function takeIgnored(node: Record<string, unknown> | undefined, keys: readonly string[], path: string, ignored: string[]): void {
  if (!node || typeof node !== 'object') return;
  for (const key of keys) {
    if (key in node) {
      ignored.push(path ? `${path}.${key}` : key);
      delete node[key];
    }
  }
}

/** Validates an already-parsed YAML document. */
export function parseGatewayConfig(document: unknown, env: NodeJS.ProcessEnv): LoadedConfig {
  if (document === null || document === undefined) document = {};
  if (typeof document !== 'object' || Array.isArray(document)) throw new ConfigError(['config: expected a mapping at the top level']);
  const problems: string[] = [];
  const ignoredKeys: string[] = [];
  const resolved = resolveEnvReferences(structuredClone(document), env, '', problems) as Record<string, unknown>;

  takeIgnored(resolved, LITELLM_KEYS_NOT_IMPLEMENTED.root, '', ignoredKeys);
  takeIgnored(resolved.general_settings as Record<string, unknown>, LITELLM_KEYS_NOT_IMPLEMENTED.general_settings, 'general_settings', ignoredKeys);
  takeIgnoredJwtAuthKeys(resolved.general_settings, ignoredKeys);
  const servers = resolved.mcp_servers;
  if (servers && typeof servers === 'object' && !Array.isArray(servers)) {
    for (const [name, spec] of Object.entries(servers as Record<string, unknown>)) {
      if (!SERVER_NAME_PATTERN.test(name)) problems.push(`mcp_servers.${name}: server names may use lowercase letters, digits and _ only ([a-z0-9_]+)`);
      takeIgnored(spec as Record<string, unknown>, LITELLM_KEYS_NOT_IMPLEMENTED.mcp_server, `mcp_servers.${name}`, ignoredKeys);
    }
  }

  const result = GatewayConfig.safeParse(resolved);
  if (!result.success) problems.push(...issuesToProblems(result.error.issues, resolved));
  else {
    problems.push(...literalUrlProblems(result.data));
    const general = result.data.general_settings;
    problems.push(...jwtAuthProblems(general, { blocked: general.mcp_blocked_ip_ranges, allowed: general.mcp_allowed_ip_ranges }));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { config: result.data!, ignoredKeys };
}

/**
 * Upstream URLs whose address is written in them and refused (SPEC section 2). Host names are resolved and checked
 * by the registry when it seeds the servers, and by the connector whenever it connects.
 */
function literalUrlProblems(config: GatewayConfig): string[] {
  const { mcp_blocked_ip_ranges: blocked, mcp_allowed_ip_ranges: allowed } = config.general_settings;
  const guard = new UpstreamUrlGuard({ blocked, allowed });
  return Object.entries(config.mcp_servers).flatMap(([name, spec]) => {
    if (!spec.url || spec.transport === 'stdio') return [];
    try {
      guard.checkLiteral(spec.url);
      return [];
    } catch (error) {
      if (!(error instanceof UpstreamUrlRefused)) throw error;
      return [`mcp_servers.${name}.url: ${error.message}`];
    }
  });
}

/** Reads and validates config.yaml. A file that cannot be read or parsed is a ConfigError too. */
export function loadGatewayConfig(path: string | undefined, env: NodeJS.ProcessEnv): LoadedConfig {
  if (!path) return parseGatewayConfig({}, env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`config: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    throw new ConfigError(document.errors.map((error) => `config: ${path} is not valid YAML: ${indentExcerpt(error.message)}`));
  }
  return parseGatewayConfig(document.toJS(), env);
}

/**
 * The yaml library's message is one line (ending in "line L, column C:") and then the offending lines with a
 * caret under the column. Every line after the first is indented alike, so the caret stays in place.
 */
function indentExcerpt(message: string): string {
  const [first, ...excerpt] = message.trimEnd().split('\n');
  return [first, ...excerpt.filter((line) => line.trim() !== '').map((line) => `    ${line}`)].join('\n');
}
