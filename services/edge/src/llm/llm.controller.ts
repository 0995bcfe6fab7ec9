import { randomUUID } from 'node:crypto';
import { Controller, Get, Inject, Param, Post, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import type { Response } from 'express';
import { Bus } from '#libs/bus';
import { CreateChatCompletion, CreateResponse, DomainError, GetResponse, LlmRequestCancelled, type LlmStreamEvent } from '#libs/contracts';
import { ApiKeyGuard, type AuthenticatedRequest } from '../auth/api-key.guard.js';
import { UsageLimiter } from '../auth/usage-limiter.js';
import { EDGE_SETTINGS, type EdgeSettings } from '../edge-settings.js';
import { readJsonBody } from '../http/json-body.js';
import { llmCaller, McpGrants } from './mcp-grants.js';
import { assertModelAllowed } from './model-access.js';
import { OpenAiErrorFilter, toOpenAiError } from './openai-error.filter.js';

/** A model answer may take minutes (tool rounds, slow providers): llm-proxy applies each provider's own timeout. */
const LLM_CALL_BUDGET_MS = 30 * 60_000;

/**
 * OpenAI-compatible Chat Completions and Responses, forwarded to llm-proxy in one bus call: the key, its rate
 * limits and its MCP permissions are settled here (cached, no extra hop), and streamed answers are written as
 * server-sent events as llm-proxy sends them. A client that disconnects before its answer is complete cancels the
 * request (LlmRequestCancelled): the provider stops generating, and no further tool or model turn runs.
 */
@Controller()
@UseGuards(ApiKeyGuard)
@UseFilters(OpenAiErrorFilter)
export class LlmController {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(UsageLimiter) private readonly limits: UsageLimiter,
    @Inject(McpGrants) private readonly grants: McpGrants,
    @Inject(EDGE_SETTINGS) private readonly settings: EdgeSettings,
  ) {}

  @Post(['v1/chat/completions', 'chat/completions'])
  chatCompletions(@Req() req: AuthenticatedRequest, @Res() res: Response) {
    return this.forward(CreateChatCompletion, req, res);
  }

  @Post(['v1/responses', 'responses'])
  createResponse(@Req() req: AuthenticatedRequest, @Res() res: Response) {
    return this.forward(CreateResponse, req, res);
  }

  @Get(['v1/responses/:id', 'responses/:id'])
  async getResponse(@Req() req: AuthenticatedRequest, @Param('id') id: string) {
    const release = await this.limits.admit(req.principal);
    try {
      const { body } = await this.bus.call(GetResponse, { caller: llmCaller(req.principal), id }, { timeoutMs: 10_000 });
      return body;
    } finally {
      release();
    }
  }

  private async forward(contract: typeof CreateChatCompletion | typeof CreateResponse, req: AuthenticatedRequest, res: Response): Promise<void> {
    const release = await this.limits.admit(req.principal);
    let streaming = false;
    const cancelId = randomUUID();
    let settled = false;
    const onClose = () => {
      if (!settled) this.bus.publish(LlmRequestCancelled, { cancel_id: cancelId });
    };
    res.once('close', onClose);
    try {
      const body = await readJsonBody(req, this.settings.env.MAX_REQUEST_BODY_BYTES);
      if (!body || typeof body !== 'object' || Array.isArray(body)) {
        throw new DomainError('INVALID_ARGUMENT', 'body: expected a JSON object', { param: 'body', type: 'invalid_request_error' });
      }
      assertModelAllowed(req.principal, (body as { model?: unknown }).model);
      const mcp = await this.grants.resolve((body as { tools?: unknown }).tools, req.principal, req.headers);
      const reply = await this.bus.call(
        contract,
        { caller: llmCaller(req.principal), body: body as Record<string, unknown>, mcp, cancel_id: cancelId },
        {
          timeoutMs: LLM_CALL_BUDGET_MS,
          onMessage: (message) => {
            if (!streaming) {
              streaming = true;
              res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
            }
            res.write((message as LlmStreamEvent).sse);
          },
        },
      );
      settled = true;
      if (streaming) res.end();
      else res.status(200).json(reply.body);
    } catch (error) {
      settled = true;
      if (res.destroyed) return; // the client went away: nobody to tell
      if (!streaming) throw error;
      // The stream has begun: the error travels in it, as OpenAI's API sends it.
      res.end(`data: ${JSON.stringify(toOpenAiError(error).body)}\n\n`);
    } finally {
      res.off('close', onClose);
      release();
    }
  }
}
