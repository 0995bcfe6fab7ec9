import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { ConfigError } from '#libs/config';
import { ServersChanged, type McpServerSpec } from '#libs/contracts';
import { REGISTRY_OPTIONS } from '../tokens.js';
import type { RegistryOptions } from '../options.js';
import { ServerRepository } from './server.repository.js';
import { definitionFromSpec, sameDefinition, type ServerDefinition, type ServerRecord } from './server-definition.js';
import { UpstreamPolicy } from './upstream-policy.js';

export type SeedAction =
  | { kind: 'insert'; definition: ServerDefinition }
  | { kind: 'update'; id: string; definition: ServerDefinition }
  | { kind: 'keep'; server_name: string; reason: 'unchanged' | 'changed-by-api' };

/**
 * What seeding from config.yaml should do: add servers the database lacks, rewrite rows that still come from
 * the config when the config differs, never touch rows the API changed, never delete.
 */
export function planSeed(config: Record<string, McpServerSpec>, existing: readonly ServerRecord[]): SeedAction[] {
  const byName = new Map(existing.map((r) => [r.server_name, r]));
  return Object.entries(config)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, spec]): SeedAction => {
      const definition = definitionFromSpec(name, spec);
      const row = byName.get(name);
      if (!row) return { kind: 'insert', definition };
      if (row.source === 'api') return { kind: 'keep', server_name: name, reason: 'changed-by-api' };
      if (sameDefinition(row, definition)) return { kind: 'keep', server_name: name, reason: 'unchanged' };
      return { kind: 'update', id: row.id, definition };
    });
}

/** Seeds the database from the config at start; safe when several replicas start at once. */
@Injectable()
export class ServerSeeder implements OnModuleInit {
  private readonly log = new Logger(ServerSeeder.name);

  constructor(
    @Inject(ServerRepository) private readonly servers: ServerRepository,
    @Inject(Bus) private readonly bus: Bus,
    @Inject(REGISTRY_OPTIONS) private readonly options: RegistryOptions,
    @Inject(UpstreamPolicy) private readonly upstreams: UpstreamPolicy,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.seed();
  }

  /** Returns the names it inserted or updated. */
  async seed(): Promise<{ created: string[]; updated: string[] }> {
    await this.checkUpstreams();
    const plan = planSeed(this.options.seedServers, await this.servers.list());
    const created: string[] = [];
    const updated: string[] = [];
    for (const action of plan) {
      if (action.kind === 'insert') {
        const record = await this.servers.insertIfMissing(action.definition);
        if (!record) continue; // another replica seeded it first
        created.push(record.server_name);
        this.bus.publish(ServersChanged, { server_id: record.id, server_name: record.server_name, change: 'created' });
      } else if (action.kind === 'update') {
        const record = await this.servers.updateIfFromConfig(action.id, action.definition);
        if (!record) continue; // changed through the API meanwhile
        updated.push(record.server_name);
        this.bus.publish(ServersChanged, { server_id: record.id, server_name: record.server_name, change: 'updated' });
      } else if (action.reason === 'changed-by-api') {
        this.log.log(`mcp_servers.${action.server_name}: kept the version changed through the API`);
      }
    }
    if (created.length + updated.length > 0) {
      this.log.log(`seeded MCP servers from the config: created [${created.join(', ')}], updated [${updated.join(', ')}]`);
    }
    return { created, updated };
  }

  /**
   * The config's URLs with their names resolved (literal addresses were checked when the config was read): a
   * refused one stops start-up like any other config error. Also says which transport a server without one got.
   */
  private async checkUpstreams(): Promise<void> {
    const problems: string[] = [];
    await Promise.all(
      Object.entries(this.options.seedServers).map(async ([name, spec]) => {
        const definition = definitionFromSpec(name, spec);
        if (spec.transport === undefined) this.upstreams.noteInferredTransport(`mcp_servers.${name}`, definition);
        await this.upstreams.checkUrl(definition, `mcp_servers.${name}.url`).catch((error: Error) => problems.push(error.message));
      }),
    );
    if (problems.length > 0) throw new ConfigError(problems.sort());
  }
}
