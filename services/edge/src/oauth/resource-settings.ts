import type { IncomingHttpHeaders } from 'node:http';
import { JWT_ALGORITHMS, type GatewayConfig, type JwtAlgorithm, type JwtIssuerSettings } from '#libs/config';
import type { IpRangeRules } from '#libs/net-guard';

/** How one trusted issuer's tokens are checked and mapped (litellm_jwtauth.issuers[i], defaults applied). */
export interface IssuerPolicy {
  issuer: string;
  jwksUrl?: string;
  /** Accepted besides the canonical URI of the endpoint called. */
  audiences: string[];
  algorithms: JwtAlgorithm[];
  userField: string;
  team?: { field: string; by: 'id' | 'alias' };
  teamAliasMap: Record<string, string>;
  teamDefault?: string;
  organization?: { field: string; by: 'id' | 'alias' };
  organizationAliasMap: Record<string, string>;
  /** Global and this issuer's required scopes. */
  requiredScopes: string[];
  /** Its opaque tokens are introspected (RFC 7662); unset: only its JWTs are accepted. */
  introspection?: { url?: string; clientId: string; clientSecret?: string; cacheMs: number };
}

export interface ResourceServerSettings {
  enabled: boolean;
  /** general_settings.public_base_url without a trailing slash; unset: the request's Host. */
  baseUrl?: string;
  issuers: IssuerPolicy[];
  /** Named in the 401 challenge: the global required scopes and every issuer's. */
  challengeScopes: string[];
  /** The metadata's scopes_supported. */
  scopesSupported: string[];
  leewaySeconds: number;
  publicKeyTtlMs: number;
  refetchCooldownMs: number;
  /** The upstream address rules, applied to JWKS and metadata fetches too. */
  addressRules: IpRangeRules;
}

const unique = (values: Iterable<string>) => [...new Set(values)];

function issuerPolicy(issuer: JwtIssuerSettings, globalScopes: string[]): IssuerPolicy {
  const audience = issuer.audience === undefined ? [] : Array.isArray(issuer.audience) ? issuer.audience : [issuer.audience];
  return {
    issuer: issuer.issuer,
    jwksUrl: issuer.jwks_url,
    audiences: audience,
    algorithms: issuer.algorithms ?? [...JWT_ALGORITHMS],
    userField: issuer.user_id_jwt_field,
    team: (issuer.team_id_jwt_field ?? issuer.team_ids_jwt_field)
      ? { field: (issuer.team_id_jwt_field ?? issuer.team_ids_jwt_field)!, by: 'id' }
      : issuer.team_alias_jwt_field
        ? { field: issuer.team_alias_jwt_field, by: 'alias' }
        : undefined,
    teamAliasMap: issuer.team_alias_map ?? {},
    teamDefault: issuer.team_id_default,
    organization: issuer.org_id_jwt_field
      ? { field: issuer.org_id_jwt_field, by: 'id' }
      : issuer.org_alias_jwt_field
        ? { field: issuer.org_alias_jwt_field, by: 'alias' }
        : undefined,
    organizationAliasMap: issuer.org_alias_map ?? {},
    requiredScopes: unique([...globalScopes, ...(issuer.required_scopes ?? [])]),
    ...(issuer.introspection
      ? {
          introspection: {
            url: issuer.introspection.url,
            clientId: issuer.introspection.client_id,
            clientSecret: issuer.introspection.client_secret,
            cacheMs: issuer.introspection.cache_seconds * 1000,
          },
        }
      : {}),
  };
}

export function resourceServerSettings(config: GatewayConfig): ResourceServerSettings {
  const general = config.general_settings;
  const jwt = general.litellm_jwtauth;
  const addressRules = { blocked: general.mcp_blocked_ip_ranges, allowed: general.mcp_allowed_ip_ranges };
  const baseUrl = general.public_base_url?.replace(/\/+$/, '');
  if (!general.enable_jwt_auth || !jwt) {
    return { enabled: false, baseUrl, issuers: [], challengeScopes: [], scopesSupported: [], leewaySeconds: 0, publicKeyTtlMs: 0, refetchCooldownMs: 0, addressRules };
  }
  const issuers = jwt.issuers.map((issuer) => issuerPolicy(issuer, jwt.required_scopes));
  const challengeScopes = unique(issuers.flatMap((issuer) => issuer.requiredScopes));
  return {
    enabled: true,
    baseUrl,
    issuers,
    challengeScopes,
    scopesSupported: unique([...challengeScopes, ...jwt.scopes_supported]),
    leewaySeconds: jwt.leeway_seconds,
    publicKeyTtlMs: jwt.public_key_ttl * 1000,
    refetchCooldownMs: jwt.jwks_refetch_cooldown_seconds * 1000,
    addressRules,
  };
}

/** `/mcp`, `/mcp/{server}` and `/{server}/mcp` (a trailing slash allowed); the server segment is a name or id. */
const MCP_ENDPOINT = /^\/(?:mcp(?:\/[^/]+)?|[^/]+\/mcp)\/?$/;

export const METADATA_PREFIX = '/.well-known/oauth-protected-resource';

/** An MCP endpoint's path without its trailing slash, or undefined when `path` is not one. */
export function mcpEndpointPath(path: string): string | undefined {
  if (!MCP_ENDPOINT.test(path)) return undefined;
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/**
 * The gateway's base URL as clients reach it: public_base_url, else `http://{Host}` (Host header as sent, lower
 * case; the edge's host validation has already admitted it). Never from X-Forwarded-*: set public_base_url behind
 * a proxy that terminates TLS.
 */
export function resourceBase(headers: IncomingHttpHeaders, baseUrl: string | undefined): URL {
  if (baseUrl) return new URL(baseUrl);
  const host = String(headers.host ?? 'localhost').toLowerCase();
  return new URL(`http://${host}`);
}

/** RFC 8707 canonical URI of an endpoint: scheme and host in lower case, default port dropped, no trailing slash. */
export function canonicalResource(base: URL, endpointPath: string): string {
  const basePath = base.pathname.replace(/\/+$/, '');
  return `${base.origin}${basePath}${endpointPath === '/' ? '' : endpointPath}`;
}

/** The gateway as a whole (the root metadata's resource): its base URL. */
export function gatewayResource(base: URL): string {
  return `${base.origin}${base.pathname.replace(/\/+$/, '')}`;
}

/** RFC 9728 section 3.1: the well-known path inserted between the host and the resource's path. */
export function metadataUrl(base: URL, endpointPath: string): string {
  const basePath = base.pathname.replace(/\/+$/, '');
  return `${base.origin}${METADATA_PREFIX}${basePath}${endpointPath === '/' ? '' : endpointPath}`;
}
