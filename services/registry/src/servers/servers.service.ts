import { Inject, Injectable } from '@nestjs/common';
import { Bus } from '#libs/bus';
import {
  DomainError,
  ServersChanged,
  type CreateServerRequest,
  type McpServerRuntime,
  type McpServerView,
  type UpdateServerRequest,
} from '#libs/contracts';
import { ServerRepository } from './server.repository.js';
import { assertValidDefinition, definitionFromCreate, mergeUpdate, toRuntime, toView } from './server-definition.js';

/** The admin CRUD of MCP servers (SPEC section 5). Every committed write is announced with ServersChanged. */
@Injectable()
export class ServersService {
  constructor(
    @Inject(ServerRepository) private readonly servers: ServerRepository,
    @Inject(Bus) private readonly bus: Bus,
  ) {}

  async list(): Promise<{ servers: McpServerView[] }> {
    return { servers: (await this.servers.list()).map(toView) };
  }

  async get(ref: string): Promise<McpServerView> {
    return toView(await this.require(ref));
  }

  async create(request: CreateServerRequest): Promise<McpServerView> {
    const definition = definitionFromCreate(request);
    assertValidDefinition(definition);
    const record = await this.servers.insert(definition, 'api', request.server_id);
    this.bus.publish(ServersChanged, { server_id: record.id, server_name: record.server_name, change: 'created' });
    return toView(record);
  }

  async update(request: UpdateServerRequest): Promise<McpServerView> {
    const result = await this.servers.update(request.server_id, (current) => mergeUpdate(current, request));
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

  /** For connectors only: the definition with its secrets in clear. */
  async resolve(ref: string): Promise<McpServerRuntime> {
    return toRuntime(await this.require(ref));
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
