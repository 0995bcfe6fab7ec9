import { Controller, HttpCode, Inject, Post, Req, UseGuards } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { CheckServer, DomainError, ProbeServer, TestServerRequest, type McpServerRuntime } from '#libs/contracts';
import { AdminOnly, ApiKeyGuard, type AuthenticatedRequest } from '../auth/api-key.guard.js';
import { EDGE_SETTINGS, type EdgeSettings } from '../edge-settings.js';
import { parseJsonBody } from '../http/json-body.js';

const CHECK_CALL = { timeoutMs: 10_000 };
/** The connector answers within its own upstream timeout; this is only for a connector that never answers. */
const PROBE_CALL = { timeoutMs: 65_000 };

/**
 * LiteLLM's "test before saving" endpoints: an UNSAVED server definition (the body of POST /v1/mcp/server, the name
 * optional) is checked exactly as saving checks it (400 naming the field, 403 for a stdio command the caller may not
 * run), then one connector connects to it once. That the upstream cannot be reached is an answer, not an error of the
 * request: 200 with `status: "error"` (as LiteLLM answers) and the field to blame. Nothing is stored.
 */
@Controller('mcp-rest/test')
@UseGuards(ApiKeyGuard)
@AdminOnly()
export class McpRestTestController {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(EDGE_SETTINGS) private readonly settings: EdgeSettings,
  ) {}

  @Post('connection')
  @HttpCode(200)
  async connection(@Req() req: AuthenticatedRequest) {
    const server = await this.checked(req);
    try {
      const reply = await this.bus.call(ProbeServer, { server, list_tools: false }, PROBE_CALL);
      return { status: 'ok', message: `connected over ${server.transport} (protocol ${reply.protocol_version ?? 'unknown'})`, protocol_version: reply.protocol_version };
    } catch (error) {
      return failure(error, server);
    }
  }

  @Post('tools/list')
  @HttpCode(200)
  async toolsList(@Req() req: AuthenticatedRequest) {
    const server = await this.checked(req);
    try {
      const reply = await this.bus.call(ProbeServer, { server, list_tools: true }, PROBE_CALL);
      return {
        tools: reply.tools ?? [],
        error: null,
        message: 'Successfully retrieved tools',
        protocol_version: reply.protocol_version,
        server_info: reply.server_info,
      };
    } catch (error) {
      return { tools: [], ...failure(error, server) };
    }
  }

  /** The body validated and checked by the registry as a create would be; the definition a connector can use. */
  private async checked(req: AuthenticatedRequest): Promise<McpServerRuntime> {
    const body = await parseJsonBody(req, this.settings.env.MAX_REQUEST_BODY_BYTES, TestServerRequest);
    return this.bus.call(CheckServer, { ...body, caller: req.principal.kind === 'master' ? 'master' : 'admin' }, CHECK_CALL);
  }
}

/** An upstream that could not be reached or answered badly; anything else (no connector, a bug) stays an HTTP error. */
function failure(error: unknown, server: McpServerRuntime) {
  if (!(error instanceof DomainError) || error.code === 'BUS_TIMEOUT' || error.code === 'INTERNAL') throw error;
  const field = server.transport === 'stdio' ? 'command' : 'url';
  return { status: 'error', error: error.code, message: error.message, details: { field } };
}
