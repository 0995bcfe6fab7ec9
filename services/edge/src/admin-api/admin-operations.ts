import { Inject, Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { Bus, isNoResponders } from '#libs/bus';
import {
  AdminCallTool,
  AdminCreateKey,
  AdminCreateOrganization,
  AdminCreateServer,
  AdminCreateTeam,
  AdminDeleteKeys,
  AdminDeleteOrganizations,
  AdminDeleteServer,
  AdminDeleteTeams,
  AdminExplainPermissions,
  AdminGetKey,
  AdminGetOrganization,
  AdminGetServer,
  AdminGetTeam,
  AdminListKeys,
  AdminListOrganizations,
  AdminListServers,
  AdminListTeams,
  AdminListTools,
  AdminListUpstreamGrants,
  AdminQueryAudit,
  AdminRevokeUpstreamGrant,
  AdminServerHealth,
  AdminTestServer,
  AdminUpdateKey,
  AdminUpdateOrganization,
  AdminUpdateServer,
  AdminUpdateTeam,
  CreateServer,
  DeleteKeys,
  DeleteOrganizations,
  DeleteServer,
  DeleteTeams,
  DomainError,
  FetchServerCatalog,
  GenerateKey,
  GetKeyInfo,
  GetOrganizationInfo,
  GetServer,
  GetServerHealth,
  GetTeamInfo,
  ListKeys,
  ListOrganizations,
  ListServers,
  ListTeams,
  ListUpstreamGrants,
  NewOrganization,
  NewTeam,
  RevokeUpstreamGrant,
  QueryAudit,
  UpdateKey,
  UpdateOrganization,
  UpdateServer,
  UpdateTeam,
  type Contract,
  type Principal,
  type ReplyOf,
  type RequestOf,
  type ServerTestReport,
} from '#libs/contracts';
import { PermissionExplainer } from '../admin/permission-explainer.js';
import { UsageLimiter } from '../auth/usage-limiter.js';
import { AccessService } from '../catalog/access.service.js';
import { CatalogService } from '../catalog/catalog.service.js';
import { McpDispatcher, type McpScope } from '../mcp/mcp.dispatcher.js';

const ADMIN_CALL_MS = 10_000;
/** Revoking a grant may wait on the upstream's authorization server. */
const REVOKE_CALL_MS = 30_000;
/** Connecting to an upstream and listing its tools may take a while (stdio servers start a process). */
const TEST_CALL_MS = 60_000;

/** Who is asking and how long they wait: the same for every transport (NATS, gRPC, REST). */
export interface AdminCaller {
  principal: Principal;
  /** Epoch ms after which the caller no longer waits. */
  deadline?: number;
}

type Operation<C extends Contract> = (request: RequestOf<C>, caller: AdminCaller) => Promise<ReplyOf<C>>;

/** The registry decides who may add or change stdio servers by the caller's key (SPEC section 2). */
const callerOf = (principal: Principal) => (principal.kind === 'master' ? 'master' : 'admin');

/**
 * The public admin operations (libs/contracts/src/admin), each one the same forwarding as its REST route: the NATS
 * facade and the gRPC server call these after checking the caller is an admin. Nothing here checks credentials.
 */
@Injectable()
export class AdminOperations {
  private readonly operations = new Map<string, Operation<Contract>>();

  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(CatalogService) private readonly catalogs: CatalogService,
    @Inject(AccessService) private readonly access: AccessService,
    @Inject(McpDispatcher) private readonly dispatcher: McpDispatcher,
    @Inject(UsageLimiter) private readonly limits: UsageLimiter,
    @Inject(PermissionExplainer) private readonly explainer: PermissionExplainer,
  ) {
    const call = <C extends Contract>(contract: C, request: RequestOf<C>, caller: AdminCaller) =>
      this.bus.call(contract, request, { timeoutMs: ADMIN_CALL_MS, ...(caller.deadline ? { deadline: caller.deadline } : {}) });

    this.define(AdminListServers, (_r, c) => call(ListServers, {}, c));
    this.define(AdminGetServer, (r, c) => call(GetServer, r, c));
    this.define(AdminCreateServer, (r, c) => call(CreateServer, { ...r, caller: callerOf(c.principal) }, c));
    this.define(AdminUpdateServer, (r, c) => call(UpdateServer, { ...r, caller: callerOf(c.principal) }, c));
    this.define(AdminDeleteServer, (r, c) => call(DeleteServer, r, c));
    this.define(AdminTestServer, (r, c) => this.testServer(r.server, c));
    this.define(AdminServerHealth, (r, c) => call(GetServerHealth, r.server ? { server: r.server } : {}, c));

    this.define(AdminCreateKey, (r, c) => call(GenerateKey, r, c));
    this.define(AdminUpdateKey, (r, c) => call(UpdateKey, r, c));
    this.define(AdminDeleteKeys, (r, c) => call(DeleteKeys, r, c));
    this.define(AdminGetKey, (r, c) => call(GetKeyInfo, r, c));
    this.define(AdminListKeys, (r, c) => call(ListKeys, r, c));

    this.define(AdminCreateTeam, (r, c) => call(NewTeam, r, c));
    this.define(AdminUpdateTeam, (r, c) => call(UpdateTeam, r, c));
    this.define(AdminDeleteTeams, (r, c) => call(DeleteTeams, r, c));
    this.define(AdminGetTeam, (r, c) => call(GetTeamInfo, r, c));
    this.define(AdminListTeams, (r, c) => call(ListTeams, r, c));

    this.define(AdminCreateOrganization, (r, c) => call(NewOrganization, r, c));
    this.define(AdminUpdateOrganization, (r, c) => call(UpdateOrganization, r, c));
    this.define(AdminDeleteOrganizations, (r, c) => call(DeleteOrganizations, r, c));
    this.define(AdminGetOrganization, (r, c) => call(GetOrganizationInfo, r, c));
    this.define(AdminListOrganizations, (_r, c) => call(ListOrganizations, {}, c));

    this.define(AdminListTools, (r, c) => this.listTools(r.server, c));
    this.define(AdminCallTool, (r, c) => this.callTool(r, c));
    this.define(AdminExplainPermissions, (r) => this.explainer.explain(r));
    this.define(AdminQueryAudit, (r, c) => call(QueryAudit, r, c));
    this.define(AdminListUpstreamGrants, (r, c) => call(ListUpstreamGrants, r, c));
    this.define(AdminRevokeUpstreamGrant, (r, c) =>
      this.bus.call(RevokeUpstreamGrant, r, { timeoutMs: REVOKE_CALL_MS, ...(c.deadline ? { deadline: c.deadline } : {}) }),
    );
  }

  private define<C extends Contract>(contract: C, operation: Operation<C>): void {
    this.operations.set(contract.name, operation as Operation<Contract>);
  }

  /** Runs one public admin contract for a caller already known to be an admin; the request is parsed already. */
  run<C extends Contract>(contract: C, request: RequestOf<C>, caller: AdminCaller): Promise<ReplyOf<C>> {
    const operation = this.operations.get(contract.name);
    if (!operation) throw new DomainError('INTERNAL', `no admin operation for ${contract.name}`);
    return operation(request, caller) as Promise<ReplyOf<C>>;
  }

  /**
   * A stored server tried now: a connector connects to it (or uses its open session) and lists its tools. An
   * upstream that fails is a report with `status: "unhealthy"`; a gateway with no connector answering is an error.
   */
  async testServer(ref: string, caller: AdminCaller): Promise<ServerTestReport> {
    const server = await this.bus.call(GetServer, { server: ref }, { timeoutMs: ADMIN_CALL_MS, ...(caller.deadline ? { deadline: caller.deadline } : {}) });
    const started = Date.now();
    const base = { server_id: server.server_id, server_name: server.server_name };
    try {
      const reply = await this.bus.call(FetchServerCatalog, { server_id: server.server_id }, { timeoutMs: TEST_CALL_MS, ...(caller.deadline ? { deadline: caller.deadline } : {}) });
      return {
        ...base,
        status: 'healthy',
        error: null,
        protocol_version: reply.protocol_version,
        server_info: reply.server_info,
        tool_count: reply.tools.length,
        tools: reply.tools.map((t) => t.name),
        duration_ms: Date.now() - started,
      };
    } catch (error) {
      if (isNoResponders(error) || !DomainError.is(error)) throw error;
      return { ...base, status: 'unhealthy', error: error.message, protocol_version: null, server_info: null, tool_count: 0, tools: [], duration_ms: Date.now() - started };
    }
  }

  /** The tools the caller's key may use (all of them for the master key), as /mcp-rest/tools/list lists them. */
  private async listTools(serverRef: string | undefined, caller: AdminCaller): Promise<ReplyOf<typeof AdminListTools>> {
    return { tools: this.access.restTools(await this.catalogs.current(), caller.principal, {}, serverRef, 'server') };
  }

  /** A tool called as the caller's key, as /mcp-rest/tools/call calls it (permissions, rate limit, audit). */
  private async callTool(request: RequestOf<typeof AdminCallTool>, caller: AdminCaller): Promise<ReplyOf<typeof AdminCallTool>> {
    const catalog = await this.catalogs.current();
    const server = request.server ? catalog.server(request.server) : undefined;
    if (request.server && !server) throw new DomainError('NOT_FOUND', `unknown MCP server "${request.server}"`, { field: 'server' });
    const scope: McpScope = server ? { kind: 'server', serverName: server.server_name } : { kind: 'aggregate' };
    await this.limits.countRequest(caller.principal);
    const release = await this.limits.admit(caller.principal);
    try {
      const headers: IncomingHttpHeaders = {};
      const params = { name: request.name, arguments: request.arguments ?? {} };
      const result = await this.dispatcher.callToolAs(caller.principal, scope, request.name, params, headers, null);
      if (result === undefined) throw new DomainError('NOT_FOUND', `unknown tool "${request.name}"`, { field: 'name' });
      return result as ReplyOf<typeof AdminCallTool>;
    } finally {
      release();
    }
  }
}
