import { Controller, Delete, Get, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { LegacySseService } from './legacy-sse.service.js';
import { StreamableHttpService } from './streamable-http.service.js';
import type { McpScope } from './mcp.dispatcher.js';

const AGGREGATE: McpScope = { kind: 'aggregate' };
const oneServer = (serverName: string): McpScope => ({ kind: 'server', serverName });

/**
 * `/mcp` (every server, prefixed names), `/mcp/{server}` and `/{server}/mcp` (one server, its own names), and the
 * legacy HTTP+SSE pair `/sse` + `/messages`.
 */
@Controller()
export class McpController {
  constructor(
    @Inject(StreamableHttpService) private readonly transport: StreamableHttpService,
    @Inject(LegacySseService) private readonly legacy: LegacySseService,
  ) {}

  @Get('sse')
  openLegacyStream(@Req() req: Request, @Res() res: Response) {
    return this.legacy.open(req, res);
  }
  @Post('messages')
  postLegacyMessage(@Query('sessionId') sessionId: string | undefined, @Req() req: Request, @Res() res: Response) {
    return this.legacy.post(req, res, sessionId);
  }

  @Post('mcp')
  postAggregate(@Req() req: Request, @Res() res: Response) {
    return this.transport.post(req, res, AGGREGATE);
  }
  @Get('mcp')
  getAggregate(@Req() req: Request, @Res() res: Response) {
    return this.transport.get(req, res, AGGREGATE);
  }
  @Delete('mcp')
  deleteAggregate(@Req() req: Request, @Res() res: Response) {
    return this.transport.delete(req, res, AGGREGATE);
  }

  @Post(['mcp/:server', ':server/mcp'])
  postServer(@Param('server') server: string, @Req() req: Request, @Res() res: Response) {
    return this.transport.post(req, res, oneServer(server));
  }
  @Get(['mcp/:server', ':server/mcp'])
  getServer(@Param('server') server: string, @Req() req: Request, @Res() res: Response) {
    return this.transport.get(req, res, oneServer(server));
  }
  @Delete(['mcp/:server', ':server/mcp'])
  deleteServer(@Param('server') server: string, @Req() req: Request, @Res() res: Response) {
    return this.transport.delete(req, res, oneServer(server));
  }
}
