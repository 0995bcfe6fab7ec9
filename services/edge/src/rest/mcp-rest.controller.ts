import { Controller, Get, HttpCode, Inject, Post, Query, Req, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { DomainError } from '#libs/contracts';
import { ApiKeyGuard, type AuthenticatedRequest } from '../auth/api-key.guard.js';
import { UsageLimiter } from '../auth/usage-limiter.js';
import { AccessService } from '../catalog/access.service.js';
import { CatalogService } from '../catalog/catalog.service.js';
import { EDGE_SETTINGS, type EdgeSettings } from '../edge-settings.js';
import { parseJsonBody } from '../http/json-body.js';
import { McpDispatcher, type McpScope } from '../mcp/mcp.dispatcher.js';

const CallToolBody = z.strictObject({
  name: z.string().min(1),
  arguments: z.record(z.string(), z.unknown()).default({}),
  /** With a server, `name` is that server's own tool name; without, the aggregate `{server}-{tool}` name. */
  server_id: z.string().optional(),
});

/** The same tools as plain JSON REST (LiteLLM's /mcp-rest), under the same permissions as /mcp. */
@Controller('mcp-rest')
@UseGuards(ApiKeyGuard)
export class McpRestController {
  constructor(
    @Inject(CatalogService) private readonly catalogs: CatalogService,
    @Inject(AccessService) private readonly access: AccessService,
    @Inject(McpDispatcher) private readonly dispatcher: McpDispatcher,
    @Inject(EDGE_SETTINGS) private readonly settings: EdgeSettings,
    @Inject(UsageLimiter) private readonly limits: UsageLimiter,
  ) {}

  @Get('tools/list')
  async list(@Req() req: AuthenticatedRequest, @Query('server_id') serverId?: string) {
    return { tools: this.access.restTools(await this.catalogs.current(), req.principal, req.headers, serverId) };
  }

  @Post('tools/call')
  @HttpCode(200)
  async call(@Req() req: AuthenticatedRequest) {
    const body = await parseJsonBody(req, this.settings.env.MAX_REQUEST_BODY_BYTES, CallToolBody);
    const catalog = await this.catalogs.current();
    const server = body.server_id ? catalog.server(body.server_id) : undefined;
    if (body.server_id && !server) throw new DomainError('NOT_FOUND', `unknown MCP server "${body.server_id}"`);
    const scope: McpScope = server ? { kind: 'server', serverName: server.server_name } : { kind: 'aggregate' };
    const release = await this.limits.admit(req.principal);
    try {
      const result = await this.dispatcher.callToolAs(req.principal, scope, body.name, { name: body.name, arguments: body.arguments }, req.headers, null);
      if (result === undefined) throw new DomainError('NOT_FOUND', `unknown tool "${body.name}"`);
      return result;
    } finally {
      release();
    }
  }
}
