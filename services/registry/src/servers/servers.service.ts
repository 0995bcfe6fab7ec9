import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Bus } from '#libs/bus';
import {
  DomainError,
  ServersChanged,
  type CheckServerCall,
  type CreateServerCall,
  type McpServerRuntime,
  type McpServerView,
  type UpdateServerCall,
} from '#libs/contracts';
import { ServerRepository } from './server.repository.js';
import { assertValidDefinition, definitionFromCreate, mergeUpdate, toRuntime, toView } from './server-definition.js';
import { UpstreamPolicy } from './upstream-policy.js';

/** The authorization server URLs of an OAuth server: checked with the address rules like `url`. */
const OAUTH_URL_FIELDS = ['token_url', 'authorization_url', 'issuer', 'token_exchange_endpoint'] as const;

/** Fields that decide what a stdio server runs: changing one is checked like adding the server. */
const HOW_IT_RUNS = ['transport', 'command', 'args', 'env'] as const;

/** The admin CRUD of MCP servers (SPEC section 5). Every committed write is announced with ServersChanged. */
@Injectable()
export class ServersService {
  constructor(
    @Inject(ServerRepository) private readonly servers: ServerRepository,
    @Inject(Bus) private readonly bus: Bus,
    @Inject(UpstreamPolicy) private readonly upstreams: UpstreamPolicy,
  ) {}

  async list(): Promise<{ servers: McpServerView[] }> {
    return { servers: (await this.servers.list()).map(toView) };
  }

  async get(ref: string): Promise<McpServerView> {
    return toView(await this.require(ref));
  }

  async create(request: CreateServerCall): Promise<McpServerView> {
    const definition = definitionFromCreate(request);
    assertValidDefinition(definition);
    this.upstreams.checkStdio(definition, request.caller);
    await this.upstreams.checkUrl(definition);
    await this.upstreams.checkOAuthUrls(definition);
    if (request.transport === undefined) this.upstreams.noteInferredTransport(`server ${definition.server_name}`, definition);
    const record = await this.servers.insert(definition, 'api', request.server_id);
    this.bus.publish(ServersChanged, { server_id: record.id, server_name: record.server_name, change: 'created' });
    return toView(record);
  }

  async update(request: UpdateServerCall): Promise<McpServerView> {
    // The URL check may resolve a name: done before the locked update, which then insists on the URL checked.
    const urlChanges = request.url !== undefined || request.transport !== undefined;
    let checkedUrl: string | null = null;
    if (urlChanges) {
      const merged = mergeUpdate(await this.require(request.server_id), request);
      await this.upstreams.checkUrl(merged);
      checkedUrl = merged.url;
    }
    if (OAUTH_URL_FIELDS.some((field) => request[field])) await this.upstreams.checkOAuthUrls(mergeUpdate(await this.require(request.server_id), request));
    const result = await this.servers.update(request.server_id, (current) => {
      const merged = mergeUpdate(current, request);
      if (HOW_IT_RUNS.some((field) => request[field] !== undefined)) this.upstreams.checkStdio(merged, request.caller);
      if (urlChanges && merged.url !== checkedUrl) {
        throw new DomainError('CONFLICT', 'url: the server changed while its URL was being checked; try again', { field: 'url' });
      }
      return merged;
    });
    if (!result) throw notFound(request.server_id);
    this.bus.publish(ServersChanged, { server_id: result.after.id, server_name: result.after.server_name, change: 'updated' });
    return toView(result.after);
  }

  async delete(ref: string): Promise<{ server_id: string; server_name: string; deleted: true }> {
    const deleted = await this.servers.delete(ref);
    if (!deleted) throw notFound(ref);
    this.bus.publish(ServersChanged, { server_id: deleted.id, server_name: deleted.server_name, change: 'deleted' });
    return { server_id: deleted.id, server_name: deleted.server_name, deleted: true };
  }

  /**
   * An unsaved definition checked as `create` checks it (fields, stdio rules, URL guard), nothing stored: the definition
   * a connector needs to test it, under a one-off `probe-…` id. With a stored server's id and no `auth_value`, the
   * stored credential is used.
   */
  async check(request: CheckServerCall): Promise<McpServerRuntime> {
    const definition = definitionFromCreate({ ...request, server_name: request.server_name ?? 'connection_test' });
    if (request.server_id && (request.auth_value === undefined || request.client_secret === undefined)) {
      const stored = await this.servers.findByRef(request.server_id);
      if (stored && stored.auth_type === definition.auth_type) {
        if (request.auth_value === undefined) definition.auth_value = stored.auth_value;
        if (request.client_secret === undefined) definition.client_secret = stored.client_secret;
      }
    }
    assertValidDefinition(definition);
    this.upstreams.checkStdio(definition, request.caller);
    await this.upstreams.checkUrl(definition);
    await this.upstreams.checkOAuthUrls(definition);
    const now = new Date();
    return toRuntime({ ...definition, id: `probe-${randomUUID()}`, source: 'api', created_at: now, updated_at: now }, this.upstreams.ipRanges);
  }

  /** For connectors only: the definition with its secrets in clear. */
  async resolve(ref: string): Promise<McpServerRuntime> {
    return toRuntime(await this.require(ref), this.upstreams.ipRanges);
  }

  async accessGroups(): Promise<{ access_groups: { name: string; servers: string[] }[] }> {
    const groups = new Map<string, Set<string>>();
    for (const server of await this.servers.list()) {
      for (const group of server.access_groups) {
        if (!groups.has(group)) groups.set(group, new Set());
        groups.get(group)!.add(server.server_name);
      }
    }
    return {
      access_groups: [...groups.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, servers]) => ({ name, servers: [...servers].sort() })),
    };
  }

  private async require(ref: string) {
    const record = await this.servers.findByRef(ref);
    if (!record) throw notFound(ref);
    return record;
  }
}

function notFound(ref: string): DomainError {
  return new DomainError('NOT_FOUND', `MCP server "${ref}" does not exist`, { server: ref });
}
