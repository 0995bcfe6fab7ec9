import { z } from 'zod';
import { defineContract } from '../contract.js';
import { Subjects } from '../subjects.js';
import { Alias, Duration, EntityId, Metadata, ModelNames, ParallelLimit, RpmLimit, Timestamp } from './common.js';
import { ObjectPermission } from './permission.js';

/**
 * Virtual keys (LiteLLM `/key/*`). A key is `sk-` followed by 43 url-safe random characters; auth stores only its
 * sha256 (hex), called `token`. The key itself is returned once, by GenerateKey.
 * A key may be referred to by the key itself, its token (hash) or its alias wherever `key` is asked for.
 * Every request refuses unknown fields (INVALID_ARGUMENT naming the field).
 */

/** A key as the management API shows it: never the key itself. */
export const KeyInfo = z.object({
  /** sha256 hex of the key (LiteLLM's `token`). */
  token: z.string(),
  /** Preview for display, `sk-...abcd`. */
  key_name: z.string(),
  key_alias: z.string().nullable(),
  team_id: z.string().nullable(),
  /** The key's team's organization (read-only, follows the team). */
  organization_id: z.string().nullable(),
  user_id: z.string().nullable(),
  /** ISO time; null = never. */
  expires: Timestamp.nullable(),
  blocked: z.boolean(),
  metadata: Metadata,
  rpm_limit: z.number().nullable(),
  max_parallel_requests: z.number().nullable(),
  object_permission: ObjectPermission.nullable(),
  /** model_names this key may use on /v1; empty = every model (its team's `models` apply too). */
  models: z.array(z.string()),
  is_admin: z.boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type KeyInfo = z.infer<typeof KeyInfo>;

/** Every virtual key starts with it (LiteLLM's convention): what tells a key from an opaque OAuth token. */
export const API_KEY_PREFIX = 'sk-';

/** POST /key/generate. */
export const GenerateKeyRequest = z.strictObject({
  /** Unique when set; CONFLICT when another key has it. */
  key_alias: Alias.nullish(),
  /** Bring your own key (LiteLLM's `key`): must start with `sk-` and have at least 20 characters after it. */
  key: z
    .string()
    .regex(/^sk-[A-Za-z0-9_-]{20,200}$/, 'expected "sk-" followed by 20 or more of [A-Za-z0-9_-]')
    .optional(),
  /** Must name an existing team (NOT_FOUND otherwise). */
  team_id: EntityId.nullish(),
  user_id: z.string().min(1).max(256).nullish(),
  /** How long the key lives from now; null/absent = never expires. */
  duration: Duration.nullish(),
  metadata: Metadata.optional(),
  rpm_limit: RpmLimit.nullish(),
  max_parallel_requests: ParallelLimit.nullish(),
  /** null/absent = the key level is not set (adds no restriction; team/org levels still apply). */
  object_permission: ObjectPermission.nullish(),
  /** model_names the key may use on /v1; absent or empty = every model. */
  models: ModelNames.optional(),
  /** Admin keys may use the management API (the edge checks Principal.is_admin). */
  is_admin: z.boolean().optional(),
  /** Create the key blocked. */
  blocked: z.boolean().optional(),
});
export type GenerateKeyRequest = z.input<typeof GenerateKeyRequest>;

/** The one time the key is shown. */
export const GenerateKeyReply = KeyInfo.extend({ key: z.string() });
export type GenerateKeyReply = z.infer<typeof GenerateKeyReply>;

/** Refers to a key by the key itself (`sk-…`), its token (sha256 hex) or its alias. */
export const KeyRef = z.string().min(1, 'expected a key, a token or a key alias');

/**
 * POST /key/update: `key` names the key; every other field present is changed (null clears it). `duration`
 * sets a new expiry counted from now (null = never expires). Publishes KeysChanged.
 */
export const UpdateKeyRequest = z.strictObject({
  key: KeyRef,
  key_alias: Alias.nullish(),
  team_id: EntityId.nullish(),
  user_id: z.string().min(1).max(256).nullish(),
  duration: Duration.nullish(),
  metadata: Metadata.optional(),
  rpm_limit: RpmLimit.nullish(),
  max_parallel_requests: ParallelLimit.nullish(),
  object_permission: ObjectPermission.nullish(),
  models: ModelNames.optional(),
  is_admin: z.boolean().optional(),
  blocked: z.boolean().optional(),
});
export type UpdateKeyRequest = z.input<typeof UpdateKeyRequest>;

/**
 * POST /key/delete `{keys: [...]}` (keys, tokens or aliases) and/or `{key_aliases: [...]}`. All or nothing:
 * one unknown key → NOT_FOUND naming it and nothing is deleted. Publishes KeysChanged (deleted).
 */
export const DeleteKeysRequest = z
  .strictObject({
    keys: z.array(KeyRef).optional(),
    key_aliases: z.array(Alias).optional(),
  })
  .refine((r) => (r.keys?.length ?? 0) + (r.key_aliases?.length ?? 0) > 0, { message: 'expected at least one key in keys or key_aliases', path: ['keys'] });
export const DeleteKeysReply = z.object({ deleted_keys: z.array(z.string()) });

/** GET /key/info?key=: LiteLLM's shape `{key: token, info}`. */
export const GetKeyInfoReply = z.object({ key: z.string(), info: KeyInfo });

/**
 * GET /key/list: paged (page from 1, size up to 100), newest first, optional filters. `keys` holds tokens unless
 * `return_full_object` is true (LiteLLM's behaviour), then KeyInfo objects.
 */
export const ListKeysRequest = z.strictObject({
  /** Default 1. (No zod defaults in requests: Bus.call types requests by their parsed shape.) */
  page: z.coerce.number().int().min(1).optional(),
  /** Default 10. */
  size: z.coerce.number().int().min(1).max(100).optional(),
  team_id: EntityId.optional(),
  organization_id: EntityId.optional(),
  user_id: z.string().optional(),
  key_alias: z.string().optional(),
  return_full_object: z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean()).optional(),
});
export type ListKeysRequest = z.input<typeof ListKeysRequest>;
export const ListKeysReply = z.object({
  keys: z.array(z.union([z.string(), KeyInfo])),
  total_count: z.number(),
  current_page: z.number(),
  total_pages: z.number(),
});

export const GenerateKey = defineContract('GenerateKey', Subjects.auth.generateKey, GenerateKeyRequest, GenerateKeyReply);
export const UpdateKey = defineContract('UpdateKey', Subjects.auth.updateKey, UpdateKeyRequest, KeyInfo);
export const DeleteKeys = defineContract('DeleteKeys', Subjects.auth.deleteKeys, DeleteKeysRequest, DeleteKeysReply);
export const GetKeyInfo = defineContract('GetKeyInfo', Subjects.auth.getKeyInfo, z.strictObject({ key: KeyRef }), GetKeyInfoReply);
export const ListKeys = defineContract('ListKeys', Subjects.auth.listKeys, ListKeysRequest, ListKeysReply);
