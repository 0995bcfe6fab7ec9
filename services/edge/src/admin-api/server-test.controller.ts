import { Controller, HttpCode, Inject, Param, Post, Req, UseGuards } from '@nestjs/common';
import { AdminOnly, ApiKeyGuard, type AuthenticatedRequest } from '../auth/api-key.guard.js';
import { AdminOperations } from './admin-operations.js';

/**
 * POST /v1/mcp/server/{id}/test: a stored server (id or name) tried now, as `switchboard servers test` and the
 * admin API's `sb.v1.admin.servers.test` do. 200 with `status: "unhealthy"` and the error when the upstream fails.
 */
@Controller('v1/mcp')
@UseGuards(ApiKeyGuard)
@AdminOnly()
export class ServerTestController {
  constructor(@Inject(AdminOperations) private readonly operations: AdminOperations) {}

  @Post('server/:id/test')
  @HttpCode(200)
  test(@Param('id') id: string, @Req() req: AuthenticatedRequest) {
    return this.operations.testServer(id, { principal: req.principal });
  }
}
