import { Inject, Injectable } from '@nestjs/common';
import {
  DeleteKeysRequest,
  DomainError,
  GenerateKeyRequest,
  MASTER_PRINCIPAL,
  ListKeysRequest,
  UpdateKeyRequest,
  type GenerateKeyReply,
  type KeyInfo,
  type Principal,
} from '#libs/contracts';
import type { z } from 'zod';
import { UnitOfWork, type AuthRepositories } from '../database/unit-of-work.js';
import { KnownServers } from '../permissions/known-servers.js';
import { CLOCK, MASTER_KEY, type Clock } from '../tokens.js';
import { presentFields, toKeyInfo } from '../views.js';
import { KeyEvents } from './key-events.js';
import { candidateHashes, expiresFrom, generateKey, hashKey, isMasterKey, KEY_PREFIX, keyPreview } from './key-material.js';
import type { KeyRecord, KeyRepository, PrincipalRecord } from './key.repository.js';

type Generate = z.output<typeof GenerateKeyRequest>;
type Update = z.output<typeof UpdateKeyRequest>;
type Delete = z.output<typeof DeleteKeysRequest>;
type List = z.output<typeof ListKeysRequest>;

const unauthenticated = (reason: string, message: string) => new DomainError('UNAUTHENTICATED', message, { reason });

/** Virtual keys: generation, management and verification. */
@Injectable()
export class KeysService {
  constructor(
    @Inject(UnitOfWork) private readonly uow: UnitOfWork,
    @Inject(KeyEvents) private readonly events: KeyEvents,
    @Inject(MASTER_KEY) private readonly masterKey: string | undefined,
    @Inject(CLOCK) private readonly now: Clock,
    @Inject(KnownServers) private readonly knownServers: KnownServers,
  ) {}

  /** Key → Principal. Unknown, blocked (or team blocked) and expired keys are UNAUTHENTICATED with a reason. */
  /** `byReference`: `key` may also be its token or alias (explaining another key; never for credentials). */
  async verify(key: string, byReference = false): Promise<Principal> {
    if (isMasterKey(key, this.masterKey)) return MASTER_PRINCIPAL;
    let tokenHash: string;
    if (byReference && !key.startsWith(KEY_PREFIX)) {
      const found = await this.uow.read((r) => findKeyOrNull(r.keys, key));
      if (!found) throw unauthenticated('unknown_key', 'invalid API key');
      tokenHash = found.token_hash;
    } else {
      if (!key.startsWith(KEY_PREFIX)) throw unauthenticated('unknown_key', 'invalid API key');
      tokenHash = hashKey(key);
    }
    const row = await this.uow.read((r) => r.keys.findPrincipal(tokenHash));
    if (!row) throw unauthenticated('unknown_key', 'invalid API key');
    if (row.blocked) throw unauthenticated('blocked', 'this key is blocked');
    if (row.team_blocked) throw unauthenticated('team_blocked', "this key's team is blocked");
    if (row.expires !== null && new Date(row.expires).getTime() <= this.now()) {
      throw unauthenticated('expired', `this key expired at ${new Date(row.expires).toISOString()}`);
    }
    return toPrincipal(row);
  }

  async generate(request: Generate): Promise<GenerateKeyReply> {
    await this.knownServers.assertKnown(request.object_permission);
    const key = request.key ?? generateKey();
    const tokenHash = hashKey(key);
    const record = await this.uow.transaction(async (r) => {
      if (request.team_id) await requireTeam(r, request.team_id);
      if (request.key_alias) await requireFreeAlias(r.keys, request.key_alias, null);
      if (request.key && (await r.keys.existsHash(tokenHash))) throw new DomainError('CONFLICT', 'this key already exists', { field: 'key' });
      await r.keys.insert({
        token_hash: tokenHash,
        key_alias: request.key_alias ?? null,
        key_name: keyPreview(key),
        team_id: request.team_id ?? null,
        user_id: request.user_id ?? null,
        expires: expiresFrom(request.duration, this.now()),
        blocked: request.blocked ?? false,
        metadata: request.metadata ?? {},
        rpm_limit: request.rpm_limit ?? null,
        max_parallel_requests: request.max_parallel_requests ?? null,
        object_permission: request.object_permission ?? null,
        models: request.models ?? [],
        is_admin: request.is_admin ?? false,
      });
      return (await r.keys.get(tokenHash))!;
    });
    // A chosen key may have been tried before it existed: edges drop any refusal they remember for it.
    if (request.key) this.events.keysChanged([tokenHash], 'created');
    return { ...toKeyInfo(record), key };
  }

  async update(request: Update): Promise<KeyInfo> {
    await this.knownServers.assertKnown(request.object_permission);
    const record = await this.uow.transaction(async (r) => {
      const existing = await findKey(r.keys, request.key);
      if (request.team_id) await requireTeam(r, request.team_id);
      if (request.key_alias) await requireFreeAlias(r.keys, request.key_alias, existing.token_hash);
      const changes = presentFields(request, [
        'key_alias',
        'team_id',
        'user_id',
        'metadata',
        'rpm_limit',
        'max_parallel_requests',
        'object_permission',
        'models',
        'is_admin',
        'blocked',
      ] as const);
      await r.keys.update(existing.token_hash, {
        ...changes,
        ...(request.duration !== undefined ? { expires: expiresFrom(request.duration, this.now()) } : {}),
      });
      return (await r.keys.get(existing.token_hash))!;
    });
    this.events.keysChanged([record.token_hash], request.blocked === true ? 'blocked' : 'updated');
    return toKeyInfo(record);
  }

  /** All or nothing: one unknown reference and nothing is deleted. */
  async delete(request: Delete): Promise<{ deleted_keys: string[] }> {
    const refs = [...(request.keys ?? []), ...(request.key_aliases ?? [])];
    const hashes = await this.uow.transaction(async (r) => {
      const found = new Set<string>();
      const missing: string[] = [];
      for (const ref of refs) {
        const key = await findKeyOrNull(r.keys, ref);
        if (key) found.add(key.token_hash);
        else missing.push(ref);
      }
      if (missing.length > 0) {
        throw new DomainError('NOT_FOUND', `keys: no key matches ${missing.map(preview).join(', ')}; nothing was deleted`, {
          field: 'keys',
          missing: missing.map(preview),
        });
      }
      await r.keys.deleteMany([...found]);
      return [...found];
    });
    this.events.keysChanged(hashes, 'deleted');
    return { deleted_keys: hashes };
  }

  async info(ref: string): Promise<{ key: string; info: KeyInfo }> {
    const record = await this.uow.read((r) => findKey(r.keys, ref));
    return { key: record.token_hash, info: toKeyInfo(record) };
  }

  async list(request: List) {
    const page = request.page ?? 1;
    const size = request.size ?? 10;
    const filter = presentFields(request, ['team_id', 'organization_id', 'user_id', 'key_alias'] as const);
    const { rows, total } = await this.uow.read((r) => r.keys.list(filter, (page - 1) * size, size));
    return {
      keys: rows.map((row) => (request.return_full_object ? toKeyInfo(row) : row.token_hash)),
      total_count: total,
      current_page: page,
      total_pages: Math.ceil(total / size),
    };
  }
}

/** Never echo a full key back in an error. */
function preview(ref: string): string {
  return ref.startsWith(KEY_PREFIX) ? keyPreview(ref) : ref;
}

async function findKeyOrNull(keys: KeyRepository, ref: string): Promise<KeyRecord | null> {
  const hashes = candidateHashes(ref);
  const rows = await keys.findByHashesOrAlias(hashes, ref.startsWith(KEY_PREFIX) ? null : ref);
  return rows.find((row) => hashes.includes(row.token_hash)) ?? rows[0] ?? null;
}

async function findKey(keys: KeyRepository, ref: string): Promise<KeyRecord> {
  const row = await findKeyOrNull(keys, ref);
  if (!row) throw new DomainError('NOT_FOUND', `key: no key matches ${preview(ref)}`, { field: 'key' });
  return row;
}

async function requireTeam(r: AuthRepositories, teamId: string): Promise<void> {
  if (!(await r.teams.get(teamId))) throw new DomainError('NOT_FOUND', `team_id: no team "${teamId}"`, { field: 'team_id', team_id: teamId });
}

async function requireFreeAlias(keys: KeyRepository, alias: string, ownHash: string | null): Promise<void> {
  const other = await keys.findByAlias(alias);
  if (other && other.token_hash !== ownHash) {
    throw new DomainError('CONFLICT', `key_alias: "${alias}" is already used by another key`, { field: 'key_alias', key_alias: alias });
  }
}

export function toPrincipal(row: PrincipalRecord): Principal {
  const hasTeam = row.team_id !== null;
  const hasOrg = hasTeam && row.organization_id !== null;
  const norm = (p: PrincipalRecord['object_permission']) =>
    p === null || p === undefined ? null : { mcp_servers: p.mcp_servers ?? [], mcp_access_groups: p.mcp_access_groups ?? [], mcp_tool_permissions: p.mcp_tool_permissions ?? {} };
  return {
    kind: 'virtual',
    token_hash: row.token_hash,
    key_alias: row.key_alias,
    user_id: row.user_id,
    team_id: row.team_id,
    organization_id: hasOrg ? row.organization_id : null,
    expires: row.expires === null ? null : new Date(row.expires).toISOString(),
    rpm_limit: row.rpm_limit,
    max_parallel_requests: row.max_parallel_requests,
    is_admin: row.is_admin,
    levels: {
      key: norm(row.object_permission),
      team: hasTeam ? norm(row.team_permission) : null,
      organization: hasOrg ? norm(row.organization_permission) : null,
    },
    key_name: row.key_name,
    team_alias: row.team_alias ?? null,
    organization_alias: row.organization_alias ?? null,
    team_rpm_limit: row.team_rpm_limit ?? null,
    team_max_parallel_requests: row.team_max_parallel_requests ?? null,
    organization_rpm_limit: row.organization_rpm_limit ?? null,
    models: row.models ?? [],
    team_models: hasTeam ? (row.team_models ?? []) : [],
  };
}
