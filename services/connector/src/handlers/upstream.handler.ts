import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { BusContext, RpcHandler } from '#libs/bus';
import { FetchServerCatalog, UpstreamRequest, type RequestOf, type StreamedClientMessage } from '#libs/contracts';
import { UpstreamPool } from '../upstream/upstream-pool.js';

@Controller()
export class UpstreamHandler {
  constructor(@Inject(UpstreamPool) private readonly pool: UpstreamPool) {}

  @RpcHandler(UpstreamRequest)
  request(@Payload() data: RequestOf<typeof UpstreamRequest>, @Ctx() ctx: BusContext) {
    return this.pool.request(data, ctx.remainingMs(), (message: StreamedClientMessage) => ctx.send(message));
  }

  @RpcHandler(FetchServerCatalog)
  fetchCatalog(@Payload() data: RequestOf<typeof FetchServerCatalog>, @Ctx() ctx: BusContext) {
    return this.pool.fetchCatalog(data, ctx.remainingMs());
  }
}
