import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type ProbeServer, type ReplyOf, type RequestOf } from '#libs/contracts';
import { ServerDefinitionsService } from '../servers/server-definitions.service.js';
import { UpstreamPool } from '../upstream/upstream-pool.js';

/** Ids the registry gives unsaved definitions (CheckServer): never a stored server's, whose sessions must survive. */
const PROBE_ID = /^probe-[0-9a-f-]{36}$/;

/**
 * Tests an unsaved server definition: it is held under its one-off id for the duration of one pool call (so the
 * connection goes through exactly the transports, address checks and version negotiation of real traffic), then
 * dropped, which closes what the pool opened for it (a stdio process included).
 */
@Injectable()
export class ServerProbe {
  constructor(
    @Inject(ServerDefinitionsService) private readonly definitions: ServerDefinitionsService,
    @Inject(UpstreamPool) private readonly pool: UpstreamPool,
  ) {}

  async probe(req: RequestOf<typeof ProbeServer>, budgetMs: number): Promise<ReplyOf<typeof ProbeServer>> {
    const { server } = req;
    if (!PROBE_ID.test(server.server_id)) {
      throw new DomainError('INVALID_ARGUMENT', `server_id: expected a probe id from the registry's CheckServer, got "${server.server_id}"`, { field: 'server_id' });
    }
    const release = this.definitions.hold(server);
    try {
      if (req.list_tools) {
        const catalog = await this.pool.fetchCatalog({ server_id: server.server_id }, budgetMs);
        const tools = new Map(catalog.tools.map((tool) => [tool.name, tool]));
        for (const extra of Object.values(catalog.capability_tools).flat()) if (!tools.has(extra.name)) tools.set(extra.name, extra);
        return { protocol_version: catalog.protocol_version, server_info: catalog.server_info, capabilities: catalog.capabilities, tools: [...tools.values()] };
      }
      await this.pool.request({ server_id: server.server_id, method: 'ping' }, budgetMs);
      return { protocol_version: this.pool.state(server.server_id)?.protocol_version ?? null, server_info: null, capabilities: {} };
    } finally {
      release();
    }
  }
}
