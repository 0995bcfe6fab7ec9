import { z } from 'zod';
import { defineContract, defineEvent } from '../contract.js';
import { Subjects } from '../subjects.js';
import { Principal } from './principal.js';

/** A team or organization as a token's claims name it: by id, by alias, or either (id first, then alias). */
export const EntityReference = z.object({
  by: z.enum(['id', 'alias', 'id_or_alias']),
  value: z.string().min(1),
});
export type EntityReference = z.infer<typeof EntityReference>;

/**
 * The Principal of an OAuth access token the edge has validated (signature, issuer, audience, expiry, scopes):
 * built from the stored team and organization exactly as for an API key of that team without a key-level
 * `object_permission` (its levels, limits and models; never admin). `token_hash` is a stable id of the user
 * (sha256 of issuer and user id), so sessions and limits follow the user across token refreshes.
 * Throws UNAUTHENTICATED with `details.reason` one of `unknown_team`, `unknown_organization`, `team_blocked`,
 * `organization_mismatch` (the organization claim names another organization than the team's).
 */
export const ResolveTokenPrincipal = defineContract(
  'ResolveTokenPrincipal',
  Subjects.auth.resolveTokenPrincipal,
  z.object({
    issuer: z.string().min(1),
    user_id: z.string().min(1),
    team: EntityReference.nullable(),
    organization: EntityReference.nullable(),
  }),
  Principal,
);

/**
 * Published by auth after a committed change to teams or organizations (update, delete): edges drop the token
 * principals built from them. (KeysChanged covers the keys of a team; a team reached only by tokens has none.)
 */
export const TeamsChanged = defineEvent(
  'TeamsChanged',
  Subjects.auth.teamsChanged,
  z.object({ team_ids: z.array(z.string()), organization_ids: z.array(z.string()) }),
);
export type TeamsChangedPayload = z.infer<typeof TeamsChanged.payload>;

