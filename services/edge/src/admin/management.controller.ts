import { Controller, Get, HttpCode, Inject, Post, Query, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import type { z } from 'zod';
import { Bus } from '#libs/bus';
import {
  DeleteKeys,
  DeleteOrganizations,
  DeleteTeams,
  GenerateKey,
  GetKeyInfo,
  GetKeySpend,
  GetOrganizationInfo,
  GetTeamInfo,
  ListKeys,
  ListOrganizations,
  ListTeams,
  NewOrganization,
  NewTeam,
  QueryAudit,
  UpdateKey,
  UpdateOrganization,
  UpdateTeam,
  DomainError,
  formatZodIssues,
  type Contract,
} from '#libs/contracts';
import { AdminOnly, ApiKeyGuard } from '../auth/api-key.guard.js';
import { EDGE_SETTINGS, type EdgeSettings } from '../edge-settings.js';
import { parseJsonBody } from '../http/json-body.js';

const ADMIN_CALL = { timeoutMs: 10_000 };

/**
 * LiteLLM's key, team and organization management (SPEC section 4) and the audit log, relayed to `auth`.
 * Master key or admin keys only. Bodies and queries are validated here with the contract's own schema, so a
 * bad field is a 400 naming it before anything is sent.
 */
@Controller()
@UseGuards(ApiKeyGuard)
@AdminOnly()
export class ManagementController {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(EDGE_SETTINGS) private readonly settings: EdgeSettings,
  ) {}

  private async fromBody<C extends Contract>(contract: C, req: Request): Promise<z.infer<C['reply']>> {
    const body = await parseJsonBody(req, this.settings.env.MAX_REQUEST_BODY_BYTES, contract.request);
    return this.bus.call(contract, body as z.infer<C['request']>, ADMIN_CALL);
  }

  private fromQuery<C extends Contract>(contract: C, query: Record<string, unknown>): Promise<z.infer<C['reply']>> {
    const parsed = contract.request.safeParse(query);
    if (!parsed.success) throw new DomainError('INVALID_ARGUMENT', formatZodIssues(parsed.error.issues));
    return this.bus.call(contract, parsed.data as z.infer<C['request']>, ADMIN_CALL);
  }

  @Post('key/generate') @HttpCode(200) generateKey(@Req() req: Request) { return this.fromBody(GenerateKey, req); }
  @Post('key/update') @HttpCode(200) updateKey(@Req() req: Request) { return this.fromBody(UpdateKey, req); }
  @Post('key/delete') @HttpCode(200) deleteKeys(@Req() req: Request) { return this.fromBody(DeleteKeys, req); }
  @Get('key/info') async keyInfo(@Query() query: Record<string, unknown>) {
    const reply = await this.fromQuery(GetKeyInfo, query);
    // LiteLLM's `spend`: the key's LLM cost so far, from llm-proxy's usage rows (null when llm-proxy does not answer).
    const spend = await this.bus.call(GetKeySpend, { tokens: [reply.info.token] }, ADMIN_CALL).then((r) => r.spend[reply.info.token] ?? 0, () => null);
    return { ...reply, info: { ...reply.info, spend } };
  }
  @Get('key/list') listKeys(@Query() query: Record<string, unknown>) { return this.fromQuery(ListKeys, query); }

  @Post('team/new') @HttpCode(200) newTeam(@Req() req: Request) { return this.fromBody(NewTeam, req); }
  @Post('team/update') @HttpCode(200) updateTeam(@Req() req: Request) { return this.fromBody(UpdateTeam, req); }
  @Post('team/delete') @HttpCode(200) deleteTeams(@Req() req: Request) { return this.fromBody(DeleteTeams, req); }
  @Get('team/info') teamInfo(@Query() query: Record<string, unknown>) { return this.fromQuery(GetTeamInfo, query); }
  @Get('team/list') listTeams(@Query() query: Record<string, unknown>) { return this.fromQuery(ListTeams, query); }

  @Post('organization/new') @HttpCode(200) newOrganization(@Req() req: Request) { return this.fromBody(NewOrganization, req); }
  @Post('organization/update') @HttpCode(200) updateOrganization(@Req() req: Request) { return this.fromBody(UpdateOrganization, req); }
  @Post('organization/delete') @HttpCode(200) deleteOrganizations(@Req() req: Request) { return this.fromBody(DeleteOrganizations, req); }
  @Get('organization/info') organizationInfo(@Query() query: Record<string, unknown>) { return this.fromQuery(GetOrganizationInfo, query); }
  @Get('organization/list') listOrganizations(@Query() query: Record<string, unknown>) { return this.fromQuery(ListOrganizations, query); }

  @Get('v1/mcp/audit') audit(@Query() query: Record<string, unknown>) { return this.fromQuery(QueryAudit, query); }
}
