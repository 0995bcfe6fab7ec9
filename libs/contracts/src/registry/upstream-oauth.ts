import { z } from 'zod';
import { defineContract, defineEvent } from '../contract.js';
import { Subjects } from '../subjects.js';

/**
 * OAuth toward upstream MCP servers (LiteLLM's keys): `auth_type: oauth2` with `oauth2_flow: client_credentials`
 * (one machine token per server, fetched and refreshed by the connectors) or `authorization_code` (one token per
 * user, granted through the gateway's consent page, kept encrypted in the registry's vault), and
 * `auth_type: oauth2_token_exchange` (RFC 8693).
 */
export const OAuth2Flow = z.enum(['client_credentials', 'authorization_code']);
export type OAuth2Flow = z.infer<typeof OAuth2Flow>;
export const TokenEndpointAuthMethod = z.enum(['client_secret_basic', 'client_secret_post', 'none']);
export type TokenEndpointAuthMethod = z.infer<typeof TokenEndpointAuthMethod>;

const HttpUrl = z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' });

/** The OAuth fields of a server definition, as config.yaml and the admin API accept them. */
export const OAuth2ServerFields = {
  oauth2_flow: OAuth2Flow.optional(),
  client_id: z.string().min(1).optional(),
  /** A credential: encrypted at rest, never returned by the API or logged. */
  client_secret: z.string().min(1).optional(),
  token_url: HttpUrl.optional(),
  authorization_url: HttpUrl.optional(),
  scopes: z.array(z.string().min(1)).optional(),
  /** How the gateway authenticates at the token endpoint: `client_secret_basic` by default with a secret, else `none`. */
  token_endpoint_auth_method: TokenEndpointAuthMethod.optional(),
  /** The authorization server's issuer: its metadata (RFC 8414, else OpenID discovery) fills in missing endpoints. */
  issuer: HttpUrl.optional(),
  /** RFC 8693 (auth_type oauth2_token_exchange): where tokens are exchanged. */
  token_exchange_endpoint: HttpUrl.optional(),
  /** RFC 8693 `audience` of the exchanged token. */
  audience: z.string().min(1).optional(),
  /** RFC 8693 `subject_token_type` (default `urn:ietf:params:oauth:token-type:access_token`). */
  subject_token_type: z.string().min(1).optional(),
};
export const OAUTH2_FIELD_NAMES = Object.keys(OAuth2ServerFields) as (keyof typeof OAuth2ServerFields)[];

type OAuth2Shape = { auth_type?: string; transport?: string } & { [K in keyof typeof OAuth2ServerFields]?: unknown };
/** Cross-field rules of the OAuth keys (config and API alike). */
export function checkOAuth2Spec(spec: OAuth2Shape, ctx: z.RefinementCtx): void {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  const oauth = spec.auth_type === 'oauth2' || spec.auth_type === 'oauth2_token_exchange';
  if (!oauth) {
    const set = OAUTH2_FIELD_NAMES.filter((name) => spec[name] !== undefined && spec[name] !== null);
    if (set.length) issue(set[0]!, `only with auth_type oauth2 or oauth2_token_exchange (auth_type is ${spec.auth_type ?? 'none'})`);
    return;
  }
  if (spec.transport === 'stdio') issue('auth_type', `${spec.auth_type} needs an http or sse server (this one is stdio)`);
  if (!spec.client_id) issue('client_id', `required with auth_type ${spec.auth_type}`);
  if (spec.token_endpoint_auth_method && spec.token_endpoint_auth_method !== 'none' && !spec.client_secret) {
    issue('client_secret', `required with token_endpoint_auth_method ${String(spec.token_endpoint_auth_method)}`);
  }
  if (spec.auth_type === 'oauth2_token_exchange') {
    if (!spec.token_exchange_endpoint && !spec.token_url && !spec.issuer) issue('token_exchange_endpoint', 'required with auth_type oauth2_token_exchange (or issuer)');
    return;
  }
  if (!spec.oauth2_flow) {
    issue('oauth2_flow', 'required with auth_type oauth2: client_credentials or authorization_code');
    return;
  }
  if (!spec.token_url && !spec.issuer) issue('token_url', `required with oauth2_flow ${String(spec.oauth2_flow)} (or issuer)`);
  if (spec.oauth2_flow === 'authorization_code' && !spec.authorization_url && !spec.issuer) issue('authorization_url', 'required with oauth2_flow authorization_code (or issuer)');
  if (spec.oauth2_flow === 'client_credentials' && !spec.client_secret && spec.token_endpoint_auth_method !== 'none') {
    issue('client_secret', 'required with oauth2_flow client_credentials');
  }
}

/** The OAuth settings of a server as a connector (secret in clear) or a view (secret masked) carries them. */
export const OAuth2Settings = z.object({
  oauth2_flow: OAuth2Flow.nullable(),
  client_id: z.string().nullable(),
  client_secret: z.string().nullable(),
  token_url: z.string().nullable(),
  authorization_url: z.string().nullable(),
  scopes: z.array(z.string()).nullable(),
  token_endpoint_auth_method: TokenEndpointAuthMethod.nullable(),
  issuer: z.string().nullable(),
  token_exchange_endpoint: z.string().nullable(),
  audience: z.string().nullable(),
  subject_token_type: z.string().nullable(),
});
export type OAuth2Settings = z.infer<typeof OAuth2Settings>;
/** The same fields in views and runtimes, where a missing one is the same as null. */
export const OAuth2SettingsFields = Object.fromEntries(
  Object.entries(OAuth2Settings.shape).map(([k, v]) => [k, (v as z.ZodType).optional()]),
) as { [K in keyof typeof OAuth2Settings.shape]: z.ZodOptional<(typeof OAuth2Settings.shape)[K]> };

/** The user a forwarded request acts for, and the MCP client acting (SPEC section 3, upstream OAuth). */
export const UpstreamUser = z.object({
  /** The caller's user: the key's `user_id`, the user an OAuth sign-in maps to, else `key:{hash}` (a key is its own user). */
  user_id: z.string().min(1),
  /** The MCP client acting for the user (consent is given per client): the key's hash or an OAuth client_id. */
  client_id: z.string().min(1),
  /** What the consent page calls the client (a key alias); never a secret. */
  client_name: z.string().optional(),
  /** The gateway's base URL as the client reached it: consent links start with it. */
  gateway_url: z.string().optional(),
  /**
   * The caller's own OAuth access token, when it signed in with one, for a server with auth_type
   * oauth2_token_exchange only: the connector exchanges it at the authorization server (RFC 8693). It never
   * reaches an upstream.
   */
  subject_token: z.string().optional(),
});
export type UpstreamUser = z.infer<typeof UpstreamUser>;

const Ticketed = z.object({ ticket: z.string().min(16).max(128) });

/**
 * A connector asks for the upstream token of one user (refreshed first when it is about to expire: one replica
 * refreshes, the others wait for its result). Without `user_id` (catalog fetches) the most recently authorized
 * user's token is used. A user without a credential, or a client the user has not approved, gets a consent
 * ticket instead.
 */
export const GetUpstreamToken = defineContract(
  'GetUpstreamToken',
  Subjects.registry.upstreamToken,
  z.object({
    server_id: z.string().min(1),
    user: UpstreamUser.pick({ user_id: true, client_id: true, client_name: true }).optional(),
    /** The upstream refused this token (sha256 hex of it: revoked, or expired by its clock): refresh it now. */
    rejected_token: z.string().length(64).optional(),
  }),
  z.discriminatedUnion('status', [
    z.object({
      status: z.literal('ok'),
      access_token: z.string(),
      token_type: z.string(),
      /** ISO time; null when the authorization server gave no lifetime. */
      expires_at: z.string().nullable(),
      user_id: z.string(),
    }),
    z.object({
      status: z.literal('authorization_required'),
      reason: z.enum(['no_credential', 'client_not_approved', 'refresh_failed']),
      /** The consent link's ticket (absent for a catalog fetch, which has no one to ask). */
      ticket: z.string().optional(),
    }),
  ]),
);

/** The consent page: what the ticket asks for, shown to the user before anything is sent to the authorization server. */
export const DescribeUpstreamConsent = defineContract(
  'DescribeUpstreamConsent',
  Subjects.registry.describeUpstreamConsent,
  Ticketed.extend({ server: z.string().min(1) }),
  z.object({
    server_name: z.string(),
    server_description: z.string().nullable(),
    user_id: z.string(),
    client_id: z.string(),
    client_name: z.string().nullable(),
    scopes: z.array(z.string()),
    /** The origin of the authorization server the browser is sent to. */
    authorization_origin: z.string(),
    /** The user holds a credential already: approving only lets this client use it. */
    has_credential: z.boolean(),
  }),
);

/**
 * The user approved the client on the consent page: the ticket is used up and the consent recorded for that user,
 * server and client. With a credential already in the vault that is all (`done`); otherwise an authorization
 * request (PKCE, state bound to this browser) starts and the browser goes to `url`.
 */
export const ApproveUpstreamConsent = defineContract(
  'ApproveUpstreamConsent',
  Subjects.registry.approveUpstreamConsent,
  Ticketed.extend({
    server: z.string().min(1),
    /** sha256 of the random value the edge put in the browser's cookie: the callback must come from that browser. */
    browser_binding: z.string().min(16),
    redirect_uri: z.url(),
  }),
  z.discriminatedUnion('kind', [z.object({ kind: z.literal('redirect'), url: z.string() }), z.object({ kind: z.literal('done'), server_name: z.string() })]),
);

/** The authorization server sent the browser back: the code is exchanged and the tokens stored for the user. */
export const CompleteUpstreamAuthorization = defineContract(
  'CompleteUpstreamAuthorization',
  Subjects.registry.completeUpstreamAuthorization,
  z.object({
    /** The whole callback URL as the browser requested it (code, state, iss, error). */
    callback_url: z.url(),
    browser_binding: z.string().min(16),
  }),
  z.object({ server_name: z.string(), user_id: z.string() }),
);

/** One user's grant on a per-user server: what the vault holds (never a token) and the clients the user approved. */
export const UpstreamGrant = z.object({
  server_id: z.string(),
  server_name: z.string(),
  /** The vault holds the user's tokens for the server as it is configured now (false: consents only). */
  has_token: z.boolean(),
  scope: z.string().nullable(),
  /** ISO times; `expires_at` of the access token (it is refreshed ahead of it), null when not said. */
  expires_at: z.string().nullable(),
  authorized_at: z.string().nullable(),
  clients: z.array(z.object({ client_id: z.string(), client_name: z.string().nullable(), approved_at: z.string() })),
});
export type UpstreamGrant = z.infer<typeof UpstreamGrant>;

/** A user's grants, one per per-user server the user authorized or approved a client for. */
export const ListUpstreamGrants = defineContract(
  'ListUpstreamGrants',
  Subjects.registry.listUpstreamGrants,
  z.object({ user_id: z.string().min(1) }),
  z.object({ grants: z.array(UpstreamGrant) }),
);

/**
 * A user withdraws a grant. With `client_id`, only that client's approval goes (the tokens stay for the other
 * clients); without, the tokens and every approval go, and the tokens are revoked at the authorization server when
 * it names a revocation endpoint (RFC 7009). Either way the connectors drop what they cached at once.
 */
export const RevokeUpstreamGrant = defineContract(
  'RevokeUpstreamGrant',
  Subjects.registry.revokeUpstreamGrant,
  z.object({ server: z.string().min(1), user_id: z.string().min(1), client_id: z.string().min(1).optional() }),
  z.object({
    server_name: z.string(),
    user_id: z.string(),
    tokens_deleted: z.boolean(),
    clients_removed: z.number().int(),
    /** True: the authorization server accepted the revocation; false: it has no revocation endpoint or refused; null: not asked. */
    revoked_at_authorization_server: z.boolean().nullable(),
  }),
);

/** A user's upstream credential was stored, approved for another client or removed: connectors drop what they cached. */
export const UpstreamCredentialChanged = defineEvent(
  'UpstreamCredentialChanged',
  Subjects.registry.upstreamCredentialChanged,
  z.object({ server_id: z.string(), user_id: z.string(), change: z.enum(['stored', 'refreshed', 'approved', 'deleted']) }),
);

/** The name of the placeholder tool a per-user server lists until some user has authorized it. */
export const AUTHORIZE_TOOL_NAME = 'authorize';
