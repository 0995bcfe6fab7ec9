import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { Bus } from '#libs/bus';
import type { ModelEntry } from '#libs/config';
import type { IpRangeRules } from '#libs/net-guard';
import { Cancellations } from './chat/cancellations.js';
import { ChatService } from './chat/chat.service.js';
import { MAX_TOOL_ROUNDS, ToolLoop } from './chat/tool-loop.js';
import { CompletionsHandler } from './handlers/completions.handler.js';
import { ModelsHandler } from './handlers/models.handler.js';
import { SpendHandler } from './handlers/spend.handler.js';
import { readDeployments } from './models/deployments.js';
import { DEPLOYMENTS, ModelClient } from './models/model-client.js';
import { MODEL_LIST, ModelsService } from './models/models.service.js';
import { ResponseStore } from './responses/response-store.js';
import { ResponsesService } from './responses/responses.service.js';
import { LLM_RETENTION, RetentionService, type LlmRetention } from './retention/retention.service.js';
import { RemoteMcp, UPSTREAM_RULES } from './tools/remote-mcp.js';
import { ToolRunner } from './tools/tool-runner.js';
import { SpendService } from './usage/spend.service.js';
import { SpendStore } from './usage/spend-store.js';
import { UsageService } from './usage/usage.service.js';

export interface LlmProxyDeps {
  bus: Bus;
  models: readonly ModelEntry[];
  /** Stored responses and usage rows: llm-proxy's tables (ResponseTableRepository, SpendTableRepository) or memory. */
  responses: ResponseStore;
  spend: SpendStore;
  maxToolRounds: number;
  /** mcp_blocked_ip_ranges / mcp_allowed_ip_ranges, for the remote MCP servers a request may name. */
  upstreamRules: IpRangeRules;
  /** How long stored responses and usage rows are kept, and how often the cleanup runs. */
  retention: LlmRetention;
  /** Releases what the stores hold (the database connection), after the last usage rows are written. */
  close?: () => Promise<void>;
}

const CLOSE = Symbol('LlmProxyClose');

@Injectable()
class StoreCloser implements OnApplicationShutdown {
  constructor(@Inject(CLOSE) private readonly close: (() => Promise<void>) | undefined) {}

  async onApplicationShutdown(): Promise<void> {
    await this.close?.().catch(() => undefined);
  }
}

/** OpenAI-compatible LLM endpoints with the gateway's MCP tools, answered on the bus for the edge. */
@Module({})
export class LlmProxyModule {
  static register(deps: LlmProxyDeps): DynamicModule {
    return {
      module: LlmProxyModule,
      controllers: [ModelsHandler, CompletionsHandler, SpendHandler],
      providers: [
        { provide: Bus, useValue: deps.bus },
        { provide: MODEL_LIST, useValue: deps.models },
        { provide: DEPLOYMENTS, useValue: readDeployments(deps.models) },
        { provide: MAX_TOOL_ROUNDS, useValue: deps.maxToolRounds },
        { provide: LLM_RETENTION, useValue: deps.retention },
        { provide: ResponseStore, useValue: deps.responses },
        { provide: SpendStore, useValue: deps.spend },
        { provide: CLOSE, useValue: deps.close },
        { provide: UPSTREAM_RULES, useValue: deps.upstreamRules },
        RemoteMcp,
        StoreCloser,
        ModelsService,
        ModelClient,
        ToolRunner,
        ToolLoop,
        Cancellations,
        UsageService,
        ChatService,
        ResponsesService,
        SpendService,
        RetentionService,
      ],
    };
  }
}
