import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { BusContext, RpcHandler } from '#libs/bus';
import { ProbeServer, type RequestOf } from '#libs/contracts';
import { ServerProbe } from '../probe/server-probe.js';

@Controller()
export class ProbeHandler {
  constructor(@Inject(ServerProbe) private readonly probes: ServerProbe) {}

  @RpcHandler(ProbeServer)
  probe(@Payload() data: RequestOf<typeof ProbeServer>, @Ctx() ctx: BusContext) {
    return this.probes.probe(data, ctx.remainingMs());
  }
}
