import { z } from 'zod';
import { UpstreamUrlGuard, UpstreamUrlRefused, type IpRangeRules } from '#libs/net-guard';

/**
 * `general_settings.enable_jwt_auth` and `general_settings.litellm_jwtauth` (LiteLLM's names): the edge as an OAuth
 * 2.1 protected resource whose MCP endpoints accept JWT access tokens of the configured issuers beside API keys.
 */

/** Asymmetric algorithms only: `none` and the HMAC family (HS*) are never accepted, whatever a token's header says. */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/**
 * litellm_jwtauth keys of LiteLLM that Switchboard does not act on (roles, routes, upserts, userinfo, virtual-key
 * mapping…): accepted and named in the start-up warning, at the top level and in each issuer.
 */
export const LITELLM_JWTAUTH_KEYS_NOT_IMPLEMENTED = [
  'admin_jwt_scope', 'admin_allowed_routes', 'public_allowed_routes', 'team_allowed_routes', 'team_id_upsert', 'user_id_upsert',
  'end_user_id_jwt_field', 'user_email_jwt_field', 'user_allowed_email_domain', 'user_roles_jwt_field',
  'user_allowed_roles', 'roles_jwt_field', 'enforce_rbac', 'role_mappings', 'scope_mappings', 'enforce_scope_based_access',
  'enforce_team_based_model_access', 'object_id_jwt_field', 'sync_user_role_and_teams', 'jwt_litellm_role_map',
  'team_claim_fallback', 'oidc_userinfo_enabled', 'oidc_userinfo_endpoint', 'oidc_userinfo_cache_ttl', 'virtual_key_claim_field',
  'virtual_key_mapping_cache_ttl', 'custom_validate', 'routing_overrides', 'customer_org_alias_jwt_field',
  'customer_member_id_jwt_field', 'customer_team_id_jwt_field',
] as const;

/** Moves the not-implemented LiteLLM keys out of general_settings.litellm_jwtauth (and its issuers) into `ignored`. */
export function takeIgnoredJwtAuthKeys(general: unknown, ignored: string[]): void {
  const take = (node: unknown, path: string) => {
    if (!node || typeof node !== 'object' || Array.isArray(node)) return;
    for (const key of LITELLM_JWTAUTH_KEYS_NOT_IMPLEMENTED) {
      if (key in node) {
        ignored.push(`${path}.${key}`);
        delete (node as Record<string, unknown>)[key];
      }
    }
  };
  const jwt = general && typeof general === 'object' ? (general as Record<string, unknown>).litellm_jwtauth : undefined;
  take(jwt, 'general_settings.litellm_jwtauth');
  const issuers = jwt && typeof jwt === 'object' ? (jwt as Record<string, unknown>).issuers : undefined;
  if (Array.isArray(issuers)) issuers.forEach((issuer, i) => take(issuer, `general_settings.litellm_jwtauth.issuers.${i}`));
}

const NoAudienceOptOut = z
  .boolean()
  .refine((value) => value === false, 'is not supported: the audience of tokens is always checked (the endpoint URI, or audience)')
  .optional();

const HttpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

/** A claim name, or a dotted path into nested claims (`realm_access.team`). */
const ClaimPath = z.string().regex(/^[^.\s]+(\.[^.\s]+)*$/, 'expected a claim name or a dotted path such as "realm_access.team"');

/** RFC 6749 scope-token: printable ASCII without space, quote or backslash. */
const ScopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'expected a scope token (no spaces, quotes or backslashes)');

/** Claim value → a team (or organization) id or alias. */
const AliasMap = z.record(z.string(), z.string().min(1));

/** RFC 7662 token introspection: how this issuer's opaque (non-JWT) access tokens are checked. */
export const IntrospectionSettings = z.strictObject({
  /** Unset: the `introspection_endpoint` of the issuer's metadata. */
  url: HttpUrl.optional(),
  /** The gateway's client at the authorization server (HTTP Basic; no secret: the client id alone). */
  client_id: z.string().min(1),
  client_secret: z.string().min(1).optional(),
  /** How long an answer is used, in seconds (never past the token's exp): a revoked token may work this long. */
  cache_seconds: z.number().int().min(0).max(3600).default(60),
});
export type IntrospectionSettings = z.infer<typeof IntrospectionSettings>;

export const JwtIssuerSettings = z
  .strictObject({
    /** The exact `iss` of its tokens; also the authorization server named in the protected-resource metadata. */
    issuer: HttpUrl,
    /** Where its signing keys are; unset: the `jwks_uri` of its metadata (RFC 8414, then OpenID discovery). */
    jwks_url: HttpUrl.optional(),
    /** Audiences accepted besides the canonical URI of the endpoint called (RFC 8707). */
    audience: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
    /** LiteLLM's opt-out; refused: audiences are always checked. */
    disable_audience_validation: NoAudienceOptOut,
    /** Signing algorithms accepted (asymmetric only). Default: all of JWT_ALGORITHMS. */
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).optional(),
    user_id_jwt_field: ClaimPath.default('sub'),
    /** The claim holding a team id, or (exclusive) the one holding a team alias. */
    team_id_jwt_field: ClaimPath.optional(),
    team_alias_jwt_field: ClaimPath.optional(),
    /** LiteLLM's list of team ids (`groups`): read as team_id_jwt_field; it must settle on one team (see the SPEC). */
    team_ids_jwt_field: ClaimPath.optional(),
    /** The team claim's value → a team id or alias (checked before the value itself). */
    team_alias_map: AliasMap.optional(),
    /** The team (id or alias) of tokens whose team claim is missing. */
    team_id_default: z.string().min(1).optional(),
    org_id_jwt_field: ClaimPath.optional(),
    org_alias_jwt_field: ClaimPath.optional(),
    org_alias_map: AliasMap.optional(),
    /** Scopes every token of this issuer must hold on the MCP endpoints (added to litellm_jwtauth.required_scopes). */
    required_scopes: z.array(ScopeToken).optional(),
    /** Also accept this issuer's opaque access tokens, checked by introspection (RFC 7662). */
    introspection: IntrospectionSettings.optional(),
  })
  .superRefine((issuer, ctx) => {
    const teamFields = (['team_id_jwt_field', 'team_ids_jwt_field', 'team_alias_jwt_field'] as const).filter((key) => issuer[key]);
    if (teamFields.length > 1) {
      ctx.addIssue({ code: 'custom', path: [teamFields[1]!], message: 'set one of team_id_jwt_field, team_ids_jwt_field or team_alias_jwt_field' });
    }
    if (issuer.org_id_jwt_field && issuer.org_alias_jwt_field) {
      ctx.addIssue({ code: 'custom', path: ['org_alias_jwt_field'], message: 'set org_id_jwt_field or org_alias_jwt_field, not both' });
    }
    if (issuer.team_alias_map && teamFields.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['team_alias_map'], message: 'needs team_id_jwt_field, team_ids_jwt_field or team_alias_jwt_field (the claim whose values it maps)' });
    }
    if (issuer.org_alias_map && !issuer.org_id_jwt_field && !issuer.org_alias_jwt_field) {
      ctx.addIssue({ code: 'custom', path: ['org_alias_map'], message: 'needs org_id_jwt_field or org_alias_jwt_field (the claim whose values it maps)' });
    }
    try {
      const url = new URL(issuer.issuer);
      if (url.search || url.hash) ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'an issuer has no query or fragment (RFC 8414)' });
    } catch {
      /* HttpUrl reported it */
    }
  });
export type JwtIssuerSettings = z.infer<typeof JwtIssuerSettings>;

export const JwtAuthSettings = z
  .strictObject({
    issuers: z.array(JwtIssuerSettings).min(1, 'expected at least one issuer'),
    /** Scopes every token must hold on the MCP endpoints (named in the 401 challenge and the metadata). */
    required_scopes: z.array(ScopeToken).default([]),
    /** Further scopes advertised in the protected-resource metadata (`scopes_supported`). */
    scopes_supported: z.array(ScopeToken).default([]),
    /** Clock skew allowed on exp / nbf / iat, in seconds. */
    leeway_seconds: z.number().int().min(0).max(300).default(30),
    /** LiteLLM's name: how long a fetched key set is used before it is fetched again, in seconds. */
    public_key_ttl: z.number().int().min(1).default(600),
    /** A token naming a key id the cached set lacks refetches the set at most this often, in seconds. */
    jwks_refetch_cooldown_seconds: z.number().int().min(0).default(30),
  })
  .superRefine((settings, ctx) => {
    const seen = new Set<string>();
    settings.issuers.forEach((issuer, i) => {
      if (seen.has(issuer.issuer)) ctx.addIssue({ code: 'custom', path: ['issuers', i, 'issuer'], message: `${issuer.issuer} is listed twice` });
      seen.add(issuer.issuer);
    });
  });
export type JwtAuthSettings = z.infer<typeof JwtAuthSettings>;

/** `general_settings.public_base_url`: the gateway's public URL (canonical resource URIs); no query or fragment. */
export const PublicBaseUrl = HttpUrl.refine((text) => {
  const url = new URL(text);
  return !url.search && !url.hash;
}, 'expected a base URL without query or fragment (https://gateway.example.com or https://example.com/gateway)');

/**
 * Checks across keys (what one key's schema cannot see): enable_jwt_auth needs litellm_jwtauth; issuer and JWKS
 * URLs whose address is written in them follow the upstream address rules (link-local and metadata addresses
 * never; blocked ranges unless allowed).
 */
export function jwtAuthProblems(
  general: { enable_jwt_auth?: boolean; litellm_jwtauth?: JwtAuthSettings },
  rules: IpRangeRules,
): string[] {
  const problems: string[] = [];
  if (general.enable_jwt_auth && !general.litellm_jwtauth) {
    problems.push('general_settings.litellm_jwtauth: required when enable_jwt_auth is true (issuers: [{ issuer, jwks_url?, audience?, … }])');
  }
  if (!general.litellm_jwtauth) return problems;
  const guard = new UpstreamUrlGuard(rules);
  general.litellm_jwtauth.issuers.forEach((issuer, i) => {
    for (const key of ['issuer', 'jwks_url'] as const) {
      const url = issuer[key];
      if (!url) continue;
      try {
        guard.checkLiteral(url);
      } catch (error) {
        if (!(error instanceof UpstreamUrlRefused)) throw error;
        problems.push(`general_settings.litellm_jwtauth.issuers.${i}.${key}: ${error.message}`);
      }
    }
  });
  return problems;
}
