import { z } from 'zod';
import { defineContract, defineEvent } from '../contract.js';
import { Subjects } from '../subjects.js';
import { ObjectPermission } from './permission.js';

/**
 * Who is calling, with every permission level the edge needs to decide without another hop.
 * The edge caches it per key hash until a KeysChanged event names the hash, and checks `expires` itself on
 * every request (no event is sent when a key expires).
 */
export const Principal = z.object({
  kind: z.enum(['master', 'virtual']),
  /** sha256 (hex) of the key; null for the master key. Never the key itself. */
  token_hash: z.string().nullable(),
  key_alias: z.string().nullable(),
  user_id: z.string().nullable(),
  team_id: z.string().nullable(),
  organization_id: z.string().nullable(),
  /** ISO time after which the key is refused (401); null = never. */
  expires: z.string().nullable(),
  rpm_limit: z.number().nullable(),
  max_parallel_requests: z.number().nullable(),
  /** Master key, or a key generated with `is_admin: true`: may use the management API. */
  is_admin: z.boolean(),
  levels: z.object({
    key: ObjectPermission.nullable(),
    team: ObjectPermission.nullable(),
    organization: ObjectPermission.nullable(),
  }),
  /** `sk-...abcd`, safe to log and show. */
  key_name: z.string().nullable().optional(),
  team_alias: z.string().nullable().optional(),
  organization_alias: z.string().nullable().optional(),
  /** The team's and the organization's own limits (shared by all their keys); null = unlimited. */
  team_rpm_limit: z.number().nullable().optional(),
  team_max_parallel_requests: z.number().nullable().optional(),
  organization_rpm_limit: z.number().nullable().optional(),
  /** The key's and its team's `models` (LLM proxy): each non-empty list restricts /v1 to those model_names. */
  models: z.array(z.string()).optional(),
  team_models: z.array(z.string()).optional(),
  /** Set for the Principal of an OAuth access token: the issuer that signed it (SPEC section 3). */
  oauth_issuer: z.string().nullable().optional(),
  /**
   * The OAuth client the token was issued to (its `azp`, else `client_id` claim), set per request: upstream OAuth
   * consent is given per client, so an MCP app the user signed in with may use a grant only once approved itself.
   */
  oauth_client_id: z.string().nullable().optional(),
});
export type Principal = z.infer<typeof Principal>;

/** The master key's Principal: every server, every management endpoint, no limits. */
export const MASTER_PRINCIPAL: Principal = Object.freeze({
  kind: 'master',
  token_hash: null,
  key_alias: 'master',
  user_id: null,
  team_id: null,
  organization_id: null,
  expires: null,
  rpm_limit: null,
  max_parallel_requests: null,
  is_admin: true,
  levels: { key: null, team: null, organization: null },
  key_name: null,
  team_alias: null,
  organization_alias: null,
  team_rpm_limit: null,
  team_max_parallel_requests: null,
  organization_rpm_limit: null,
  models: [],
  team_models: [],
});

/**
 * Key → Principal. Throws UNAUTHENTICATED with `details.reason` one of `unknown_key` (never issued or
 * deleted), `blocked`, `team_blocked`, `expired`. The master key (compared in constant time) gives kind 'master'.
 */
export const VerifyKey = defineContract(
  'VerifyKey',
  Subjects.auth.verifyKey,
  z.object({
    key: z.string().min(1),
    /**
     * `key` may also be a key's token (sha256) or alias: for the admin API's explanation of another key
     * (GET /v1/mcp/permissions?key=). Never set when authenticating a request, where only the key itself counts.
     */
    by_reference: z.boolean().optional(),
  }),
  Principal,
);

/**
 * Published by auth after any committed change that affects how a key verifies (update, delete, block; a team's
 * or an organization's change names all of their keys). Every edge drops these hashes from its cache.
 * Long lists are split into several events of at most 5000 hashes.
 */
export const KeysChanged = defineEvent(
  'KeysChanged',
  Subjects.auth.keysChanged,
  z.object({ token_hashes: z.array(z.string()), reason: z.enum(['created', 'deleted', 'updated', 'blocked', 'expired', 'team', 'organization']) }),
);
export type KeysChangedPayload = z.infer<typeof KeysChanged.payload>;
