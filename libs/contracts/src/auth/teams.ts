import { z } from 'zod';
import { defineContract } from '../contract.js';
import { Subjects } from '../subjects.js';
import { Alias, EntityId, Metadata, ModelNames, ParallelLimit, RpmLimit, Timestamp } from './common.js';
import { KeyInfo } from './keys.js';
import { ObjectPermission } from './permission.js';

/** Teams (LiteLLM `/team/*`). A team's object_permission is one level of every key in the team. */
export const TeamInfo = z.object({
  team_id: z.string(),
  team_alias: z.string().nullable(),
  organization_id: z.string().nullable(),
  object_permission: ObjectPermission.nullable(),
  /** Shared by all the team's keys; null = unlimited. */
  rpm_limit: z.number().nullable(),
  max_parallel_requests: z.number().nullable(),
  /** model_names the team's keys may use on /v1; empty = every model. */
  models: z.array(z.string()),
  metadata: Metadata,
  /** A blocked team's keys are refused (UNAUTHENTICATED, reason team_blocked). */
  blocked: z.boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type TeamInfo = z.infer<typeof TeamInfo>;

/** POST /team/new. `team_id` is generated (uuid) unless given; CONFLICT when taken. `team_alias` is unique when set. */
export const NewTeamRequest = z.strictObject({
  team_id: EntityId.optional(),
  team_alias: Alias.nullish(),
  /** Must name an existing organization (NOT_FOUND otherwise). */
  organization_id: EntityId.nullish(),
  object_permission: ObjectPermission.nullish(),
  rpm_limit: RpmLimit.nullish(),
  max_parallel_requests: ParallelLimit.nullish(),
  models: ModelNames.optional(),
  metadata: Metadata.optional(),
  blocked: z.boolean().optional(),
});
export type NewTeamRequest = z.input<typeof NewTeamRequest>;

/** POST /team/update: every field present is changed (null clears it). Publishes KeysChanged for all its keys. */
export const UpdateTeamRequest = NewTeamRequest.extend({ team_id: EntityId });
export type UpdateTeamRequest = z.input<typeof UpdateTeamRequest>;

/**
 * POST /team/delete `{team_ids: [...]}`. All or nothing. A team that still has keys is NOT deleted: CONFLICT
 * with `details.key_count` (delete or move its keys first). Detaching instead would silently widen those keys'
 * access, because a key without a team loses the team level's restriction.
 */
export const DeleteTeamsRequest = z.strictObject({ team_ids: z.array(EntityId).min(1, 'expected at least one team id') });
export const DeleteTeamsReply = z.object({ deleted_teams: z.array(z.string()) });

/** GET /team/info?team_id=: LiteLLM's shape `{team_id, team_info, keys}`. */
export const GetTeamInfoReply = z.object({ team_id: z.string(), team_info: TeamInfo, keys: z.array(KeyInfo) });

/** GET /team/list, optionally of one organization. */
export const ListTeamsRequest = z.strictObject({ organization_id: EntityId.optional() });
export const ListTeamsReply = z.object({ teams: z.array(TeamInfo) });

export const NewTeam = defineContract('NewTeam', Subjects.auth.newTeam, NewTeamRequest, TeamInfo);
export const UpdateTeam = defineContract('UpdateTeam', Subjects.auth.updateTeam, UpdateTeamRequest, TeamInfo);
export const DeleteTeams = defineContract('DeleteTeams', Subjects.auth.deleteTeams, DeleteTeamsRequest, DeleteTeamsReply);
export const GetTeamInfo = defineContract('GetTeamInfo', Subjects.auth.getTeamInfo, z.strictObject({ team_id: EntityId }), GetTeamInfoReply);
export const ListTeams = defineContract('ListTeams', Subjects.auth.listTeams, ListTeamsRequest, ListTeamsReply);
