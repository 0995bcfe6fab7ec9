import { Controller, Get, Inject, Query, Req, UseGuards } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { DomainError, formatZodIssues, QuerySpendLogs } from '#libs/contracts';
import { ApiKeyGuard, type AuthenticatedRequest } from '../auth/api-key.guard.js';
import { hashKey } from '../auth/credentials.js';

/**
 * LiteLLM's `GET /spend/logs`: token usage and cost per request (llm-proxy's rows). Admin keys see every row and
 * may filter by `api_key` (a key or its token); other keys see their own rows only.
 */
@Controller()
@UseGuards(ApiKeyGuard)
export class SpendController {
  constructor(@Inject(Bus) private readonly bus: Bus) {}

  @Get('spend/logs')
  logs(@Req() req: AuthenticatedRequest, @Query() query: Record<string, unknown>) {
    const parsed = QuerySpendLogs.request.safeParse(query);
    if (!parsed.success) throw new DomainError('INVALID_ARGUMENT', formatZodIssues(parsed.error.issues));
    const asked = parsed.data.api_key?.startsWith('sk-') ? hashKey(parsed.data.api_key) : parsed.data.api_key;
    const apiKey = req.principal.is_admin ? asked : (req.principal.token_hash ?? undefined);
    return this.bus.call(QuerySpendLogs, { ...parsed.data, api_key: apiKey }, { timeoutMs: 10_000 });
  }
}
