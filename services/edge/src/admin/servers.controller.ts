import { Controller, Delete, Get, Inject, Param, Post, Put, Query, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { Bus } from '#libs/bus';
import {
  CreateServer,
  CreateServerRequest,
  DeleteServer,
  GetServer,
  GetServerHealth,
  ListAccessGroups,
  ListServers,
  UpdateServer,
  UpdateServerRequest,
} from '#libs/contracts';
import { AdminOnly, ApiKeyGuard, type AuthenticatedRequest } from '../auth/api-key.guard.js';
import { CatalogService } from '../catalog/catalog.service.js';
import { EDGE_SETTINGS, type EdgeSettings } from '../edge-settings.js';
import { parseJsonBody } from '../http/json-body.js';

const ADMIN_CALL = { timeoutMs: 10_000 };

/** The registry decides who may add or change stdio servers by the caller's key (SPEC section 2). */
const callerOf = (req: Request) => ((req as AuthenticatedRequest).principal.kind === 'master' ? 'master' : 'admin');

/** SPEC section 5: the MCP server registry, for the master key and admin keys. */
@Controller('v1/mcp')
@UseGuards(ApiKeyGuard)
@AdminOnly()
export class ServersController {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(CatalogService) private readonly catalogs: CatalogService,
    @Inject(EDGE_SETTINGS) private readonly settings: EdgeSettings,
  ) {}

  @Get('server')
  async list() {
    return (await this.bus.call(ListServers, {}, ADMIN_CALL)).servers;
  }

  @Get('server/health')
  health(@Query('server_id') server?: string) {
    return this.bus.call(GetServerHealth, server ? { server } : {}, ADMIN_CALL);
  }

  @Get('server/:id')
  get(@Param('id') id: string) {
    return this.bus.call(GetServer, { server: id }, ADMIN_CALL);
  }

  @Post('server')
  async create(@Req() req: Request) {
    const body = await parseJsonBody(req, this.settings.env.MAX_REQUEST_BODY_BYTES, CreateServerRequest);
    return this.bus.call(CreateServer, { ...body, caller: callerOf(req) }, ADMIN_CALL);
  }

  @Put('server')
  async update(@Req() req: Request) {
    const body = await parseJsonBody(req, this.settings.env.MAX_REQUEST_BODY_BYTES, UpdateServerRequest);
    return this.bus.call(UpdateServer, { ...body, caller: callerOf(req) }, ADMIN_CALL);
  }

  @Delete('server/:id')
  delete(@Param('id') id: string) {
    return this.bus.call(DeleteServer, { server: id }, ADMIN_CALL);
  }

  @Get('access_groups')
  accessGroups() {
    return this.bus.call(ListAccessGroups, {}, ADMIN_CALL);
  }

  /** Every tool of every healthy server, with its aggregate name. */
  @Get('tools')
  async tools() {
    const catalog = await this.catalogs.current();
    const tools = catalog.catalog.aggregate_names.flatMap((entry) => {
      const route = catalog.aggregateRoutes.get(entry.name);
      return route ? [{ ...route.tool, name: entry.name, mcp_info: { server_id: route.server.server_id, server_name: route.server.server_name, tool_name: route.tool.name } }] : [];
    });
    return { tools };
  }
}
