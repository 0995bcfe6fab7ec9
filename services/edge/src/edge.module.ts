import { Module, type DynamicModule } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { CounterStore, KeyValueStore, type Stores } from '#libs/cache';
import { ManagementController } from './admin/management.controller.js';
import { AdminBusFacade } from './admin-api/admin-bus.facade.js';
import { AdminGate } from './admin-api/admin-gate.js';
import { AdminOperations } from './admin-api/admin-operations.js';
import { ServerTestController } from './admin-api/server-test.controller.js';
import { PermissionExplainer } from './admin/permission-explainer.js';
import { PermissionsController } from './admin/permissions.controller.js';
import { ServersController } from './admin/servers.controller.js';
import { ApiKeyGuard } from './auth/api-key.guard.js';
import { AuditTrail } from './auth/audit-trail.js';
import { UsageLimiter } from './auth/usage-limiter.js';
import { RateLimiter } from '#libs/permissions';
import { PrincipalService } from './auth/principal.service.js';
import { AccessService } from './catalog/access.service.js';
import { CatalogService } from './catalog/catalog.service.js';
import { EDGE_SETTINGS, type EdgeSettings } from './edge-settings.js';
import { HealthController } from './health/health.controller.js';
import { EdgePingHandler } from './health/ping.handler.js';
import { OriginPolicy } from './http/origin.js';
import { LlmController } from './llm/llm.controller.js';
import { McpGrants } from './llm/mcp-grants.js';
import { ModelsController } from './llm/models.controller.js';
import { SpendController } from './llm/spend.controller.js';
import { LegacySseService } from './mcp/legacy-sse.service.js';
import { McpDispatcher } from './mcp/mcp.dispatcher.js';
import { RequestStateSealer } from './mcp/request-state.js';
import { McpRouter } from './mcp/mcp.router.js';
import { NotificationStreams } from './mcp/notification-streams.js';
import { SessionStore } from './mcp/session.store.js';
import { StreamableHttpService } from './mcp/streamable-http.service.js';
import { SubscriptionListeners } from './mcp/subscriptions.js';
import { ProtectedResource } from './oauth/protected-resource.js';
import { FallbackCounterStore, GuardedKeyValueStore, StoreGuard } from './resilience/store-guard.js';
import { TokenPrincipals } from './oauth/token-principals.js';
import { McpRestController } from './rest/mcp-rest.controller.js';
import { McpRestTestController } from './rest/mcp-rest-test.controller.js';
import { ORIGIN_POLICY } from './tokens.js';
import { UiController } from './ui/ui.controller.js';
import { UpstreamGrantsController } from './upstream-oauth/upstream-grants.controller.js';
import { UpstreamOAuthController } from './upstream-oauth/upstream-oauth.controller.js';
import { UpstreamUsers } from './upstream-oauth/upstream-users.js';

export interface EdgeDeps {
  bus: Bus;
  /** Sessions and rate counters; in one process the same instance every service shares. */
  stores: Stores;
  settings: EdgeSettings;
}

/** The public HTTP face: MCP endpoints, REST, admin API and health. Holds nothing durable. */
@Module({})
export class EdgeModule {
  static register(deps: EdgeDeps): DynamicModule {
    const allowedOrigins = [
      ...(deps.settings.file.config.general_settings.allowed_origins ?? []),
      ...deps.settings.env.ALLOWED_ORIGINS.split(','),
    ];
    // with Redis unreachable nothing waits for it: sessions from memory, rate limits counted in memory (store-guard.ts)
    const guard = new StoreGuard(deps.stores.kv, deps.stores.kind === 'redis');
    const counters = new FallbackCounterStore(deps.stores.counters, guard);
    return {
      module: EdgeModule,
      controllers: [McpRestController, McpRestTestController, UiController, ServersController, ServerTestController, ManagementController, PermissionsController, ModelsController, LlmController, SpendController, HealthController, EdgePingHandler, UpstreamOAuthController, UpstreamGrantsController],
      providers: [
        { provide: Bus, useValue: deps.bus },
        { provide: StoreGuard, useValue: guard },
        { provide: KeyValueStore, useValue: new GuardedKeyValueStore(deps.stores.kv, guard) },
        { provide: CounterStore, useValue: counters },
        { provide: EDGE_SETTINGS, useValue: deps.settings },
        { provide: ORIGIN_POLICY, useValue: new OriginPolicy(allowedOrigins) },
        // every edge of a deployment shares these secrets, so a modern client's retry may land on any of them
        { provide: RequestStateSealer, useValue: new RequestStateSealer(deps.settings.env.SWITCHBOARD_SALT_KEY ?? deps.settings.masterKey) },
        PrincipalService,
        TokenPrincipals,
        ProtectedResource,
        { provide: RateLimiter, useValue: new RateLimiter(counters) },
        UsageLimiter,
        AuditTrail,
        ApiKeyGuard,
        CatalogService,
        AccessService,
        SessionStore,
        NotificationStreams,
        UpstreamUsers,
        McpDispatcher,
        SubscriptionListeners,
        StreamableHttpService,
        LegacySseService,
        McpRouter,
        McpGrants,
        AdminOperations,
        PermissionExplainer,
        AdminGate,
        AdminBusFacade,
      ],
    };
  }
}
