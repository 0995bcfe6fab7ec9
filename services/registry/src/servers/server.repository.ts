import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { DomainError, OAUTH2_FIELD_NAMES, type OAuth2Settings } from '#libs/contracts';
import { databaseAnswers } from '#libs/database';
import { REGISTRY_DATA_SOURCE } from '../tokens.js';
import { CredentialCipher } from './credential-cipher.js';
import { McpServerEntity } from './server.entity.js';
import { UpstreamCredentialEntity } from '../upstream-oauth/upstream-credential.entity.js';
import type { ServerDefinition, ServerRecord, ServerSource } from './server-definition.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UNIQUE_VIOLATION = '23505';

/** The only place that touches `mcp_servers`: encrypts credentials on the way in, decrypts on the way out. */
@Injectable()
export class ServerRepository {
  constructor(
    @Inject(REGISTRY_DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(CredentialCipher) private readonly cipher: CredentialCipher,
  ) {}

  async list(): Promise<ServerRecord[]> {
    const rows = await this.dataSource.getRepository(McpServerEntity).find({ order: { server_name: 'ASC' } });
    return rows.map((row) => this.toRecord(row));
  }

  /** `ref` is a server id (uuid) or a server name. */
  async findByRef(ref: string): Promise<ServerRecord | null> {
    const row = await this.dataSource.getRepository(McpServerEntity).findOne({ where: refWhere(ref) });
    return row ? this.toRecord(row) : null;
  }

  /** Inserts an API-created server; a taken name or id is a CONFLICT. */
  async insert(definition: ServerDefinition, source: ServerSource, id: string = randomUUID()): Promise<ServerRecord> {
    const now = new Date();
    const row = { id, ...this.toColumns(definition), source, created_at: now, updated_at: now };
    try {
      await this.dataSource.transaction(async (manager) => {
        await manager.createQueryBuilder().insert().into(McpServerEntity).values(row).execute();
      });
    } catch (error) {
      throw conflictOf(error, definition.server_name, id) ?? error;
    }
    return this.toRecord(row as McpServerEntity);
  }

  /**
   * Reads the row under a lock, lets `change` compute the new definition, writes it: one transaction, so two
   * concurrent updates merge one after the other. Returns null when there is no such server.
   */
  async update(ref: string, change: (current: ServerRecord) => ServerDefinition): Promise<{ before: ServerRecord; after: ServerRecord } | null> {
    try {
      return await this.dataSource.transaction(async (manager) => {
        const row = await manager
          .getRepository(McpServerEntity)
          .createQueryBuilder('s')
          .setLock('pessimistic_write')
          .where(ref.match(UUID) ? 's.id = :ref' : 's.server_name = :ref', { ref })
          .getOne();
        if (!row) return null;
        const before = this.toRecord(row);
        const definition = change(before);
        const updated = { ...this.toColumns(definition), source: 'api' as const, updated_at: nextTimestamp(row.updated_at) };
        await manager.getRepository(McpServerEntity).update({ id: row.id }, updated);
        return { before, after: this.toRecord({ ...row, ...updated }) };
      });
    } catch (error) {
      throw conflictOf(error, undefined, undefined) ?? error;
    }
  }

  async delete(ref: string): Promise<{ id: string; server_name: string } | null> {
    return this.dataSource.transaction(async (manager) => {
      const result = await manager
        .createQueryBuilder()
        .delete()
        .from(McpServerEntity)
        .where(ref.match(UUID) ? 'id = :ref' : 'server_name = :ref', { ref })
        .returning(['id', 'server_name'])
        .execute();
      const rows = result.raw as { id: string; server_name: string }[];
      return rows[0] ?? null;
    });
  }

  /** Seeding: inserts the server unless its name exists (ON CONFLICT DO NOTHING, safe across replicas). */
  async insertIfMissing(definition: ServerDefinition): Promise<ServerRecord | null> {
    const now = new Date();
    const row = { id: randomUUID(), ...this.toColumns(definition), source: 'config' as const, created_at: now, updated_at: now };
    const result = await this.dataSource.transaction((manager: EntityManager) =>
      manager.createQueryBuilder().insert().into(McpServerEntity).values(row).orIgnore().returning(['id']).execute(),
    );
    return (result.raw as unknown[]).length > 0 ? this.toRecord(row as McpServerEntity) : null;
  }

  /** Seeding: rewrites a row from the config only while its source is still 'config'. */
  async updateIfFromConfig(id: string, definition: ServerDefinition): Promise<ServerRecord | null> {
    return this.dataSource.transaction(async (manager) => {
      const row = await manager
        .getRepository(McpServerEntity)
        .createQueryBuilder('s')
        .setLock('pessimistic_write')
        .where('s.id = :id AND s.source = :source', { id, source: 'config' })
        .getOne();
      if (!row) return null;
      const updated = { ...this.toColumns(definition), updated_at: nextTimestamp(row.updated_at) };
      await manager.getRepository(McpServerEntity).update({ id }, updated);
      return this.toRecord({ ...row, ...updated });
    });
  }

  /**
   * Re-encrypts every stored credential (auth values, client secrets, stdio env and the users' upstream tokens) from `from` to `to` in one transaction; a
   * value `from` cannot decrypt aborts it with nothing written. Returns the number of servers rewritten.
   */
  async reencryptCredentials(from: CredentialCipher, to: CredentialCipher): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      const rows = await manager
        .getRepository(McpServerEntity)
        .createQueryBuilder('s')
        .setLock('pessimistic_write')
        .select(['s.id', 's.server_name', 's.env', 's.auth_value', 's.client_secret'])
        .getMany();
      let rewritten = 0;
      for (const row of rows) {
        if (!row.env && !row.auth_value && !row.client_secret) continue;
        const reencrypt = (stored: string | null) => {
          if (!stored) return null;
          try {
            return to.encrypt(from.decrypt(stored));
          } catch {
            throw new DomainError('INVALID_ARGUMENT', `the current key cannot decrypt the credentials of server ${row.server_name}: nothing was changed`);
          }
        };
        await manager
          .getRepository(McpServerEntity)
          .update({ id: row.id }, { env: reencrypt(row.env), auth_value: reencrypt(row.auth_value), client_secret: reencrypt(row.client_secret) });
        rewritten++;
      }
      // the users' upstream tokens in the vault are under the same key
      const tokens = await manager.getRepository(UpstreamCredentialEntity).createQueryBuilder('c').setLock('pessimistic_write').getMany();
      for (const row of tokens) {
        const reencrypt = (stored: string) => {
          try {
            return to.encrypt(from.decrypt(stored));
          } catch {
            throw new DomainError('INVALID_ARGUMENT', `the current key cannot decrypt a stored upstream token: nothing was changed`);
          }
        };
        await manager
          .getRepository(UpstreamCredentialEntity)
          .update(
            { server_id: row.server_id, user_id: row.user_id },
            { access_token: reencrypt(row.access_token), refresh_token: row.refresh_token ? reencrypt(row.refresh_token) : null },
          );
      }
      return rewritten;
    });
  }

  ping(): Promise<boolean> {
    return databaseAnswers(this.dataSource);
  }

  private toColumns(d: ServerDefinition): Omit<McpServerEntity, 'id' | 'source' | 'created_at' | 'updated_at'> {
    return {
      server_name: d.server_name,
      alias: d.alias,
      description: d.description,
      url: d.url,
      transport: d.transport,
      command: d.command,
      args: d.args,
      env: Object.keys(d.env).length > 0 ? this.cipher.encryptJson(d.env) : null,
      auth_type: d.auth_type,
      auth_value: d.auth_value ? this.cipher.encrypt(d.auth_value) : null,
      static_headers: d.static_headers,
      extra_headers: d.extra_headers,
      allowed_tools: d.allowed_tools,
      disallowed_tools: d.disallowed_tools,
      access_groups: d.access_groups,
      allow_all_keys: d.allow_all_keys,
      timeout: d.timeout,
      max_concurrent_requests: d.max_concurrent_requests,
      spec_version: d.spec_version,
      oauth2: oauth2Column(d),
      client_secret: d.client_secret ? this.cipher.encrypt(d.client_secret) : null,
    };
  }

  private toRecord(row: McpServerEntity): ServerRecord {
    return {
      id: row.id,
      server_name: row.server_name,
      alias: row.alias,
      description: row.description,
      url: row.url,
      transport: row.transport as ServerRecord['transport'],
      command: row.command,
      args: row.args,
      env: row.env ? this.cipher.decryptJson<Record<string, string>>(row.env) : {},
      auth_type: row.auth_type as ServerRecord['auth_type'],
      auth_value: row.auth_value ? this.cipher.decrypt(row.auth_value) : null,
      static_headers: row.static_headers,
      extra_headers: row.extra_headers,
      allowed_tools: row.allowed_tools,
      disallowed_tools: row.disallowed_tools,
      access_groups: row.access_groups,
      allow_all_keys: row.allow_all_keys,
      timeout: row.timeout === null ? null : Number(row.timeout),
      max_concurrent_requests: row.max_concurrent_requests,
      spec_version: row.spec_version,
      ...oauth2Fields(row.oauth2),
      client_secret: row.client_secret ? this.cipher.decrypt(row.client_secret) : null,
      source: row.source,
      created_at: new Date(row.created_at),
      updated_at: new Date(row.updated_at),
    };
  }
}

/** The OAuth settings but the secret, as the `oauth2` column keeps them (null when none is set). */
function oauth2Column(d: OAuth2Settings): Record<string, string | string[]> | null {
  const entries = OAUTH2_FIELD_NAMES.filter((k) => k !== 'client_secret' && d[k] !== null && d[k] !== undefined).map((k) => [k, d[k]]);
  return entries.length ? Object.fromEntries(entries) : null;
}

function oauth2Fields(column: Record<string, string | string[]> | null): Omit<OAuth2Settings, 'client_secret'> {
  return Object.fromEntries(OAUTH2_FIELD_NAMES.filter((k) => k !== 'client_secret').map((k) => [k, column?.[k] ?? null])) as Omit<OAuth2Settings, 'client_secret'>;
}

function refWhere(ref: string): { id: string } | { server_name: string } {
  return UUID.test(ref) ? { id: ref } : { server_name: ref };
}

/** Strictly after the previous value, so that `revision` changes even for two updates in one millisecond. */
function nextTimestamp(previous: Date): Date {
  const now = Date.now();
  return new Date(Math.max(now, new Date(previous).getTime() + 1));
}

function conflictOf(error: unknown, name: string | undefined, id: string | undefined): DomainError | null {
  const e = error as { code?: string; constraint?: string; detail?: string; driverError?: { code?: string; constraint?: string; detail?: string } };
  const code = e.code ?? e.driverError?.code;
  if (code !== UNIQUE_VIOLATION) return null;
  const constraint = e.constraint ?? e.driverError?.constraint ?? '';
  if (constraint.includes('server_name') || !constraint) {
    const detail = e.detail ?? e.driverError?.detail ?? '';
    const taken = name ?? /\(server_name\)=\(([^)]*)\)/.exec(detail)?.[1] ?? '';
    return new DomainError('CONFLICT', `server_name "${taken}" already exists`, { field: 'server_name' });
  }
  return new DomainError('CONFLICT', `server_id "${id ?? ''}" already exists`, { field: 'server_id' });
}
