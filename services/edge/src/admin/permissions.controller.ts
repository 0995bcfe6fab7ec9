import { Controller, Get, Inject, Query, UseGuards } from '@nestjs/common';
import { DomainError, ExplainPermissionsRequest } from '#libs/contracts';
import { AdminOnly, ApiKeyGuard } from '../auth/api-key.guard.js';
import { PermissionExplainer } from './permission-explainer.js';

/**
 * GET /v1/mcp/permissions?key=: a key's effective servers and tools, and for every server or tool it cannot use,
 * which level (key, team, organization, the server itself, or no level set) removed it.
 * GET /v1/mcp/permissions?token=[&resource=]: the same for an OAuth access token, with its mapping (which issuer,
 * which claims, which team and organization).
 */
@Controller('v1/mcp')
@UseGuards(ApiKeyGuard)
@AdminOnly()
export class PermissionsController {
  constructor(@Inject(PermissionExplainer) private readonly explainer: PermissionExplainer) {}

  @Get('permissions')
  explain(@Query() query: Record<string, unknown>) {
    const { key, token, resource } = query;
    const request = ExplainPermissionsRequest.safeParse({ key, token, resource });
    if (!request.success) {
      const issue = request.error.issues[0]!;
      const field = String(issue.path[0] ?? 'key');
      throw new DomainError('INVALID_ARGUMENT', `${field}: ${issue.message}`, { field });
    }
    return this.explainer.explain(request.data);
  }
}
