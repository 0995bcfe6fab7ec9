import { Controller } from '@nestjs/common';
import { RpcHandler } from '#libs/bus';
import { pingContract } from '#libs/contracts';

/** Answers readiness pings on the bus, like every other service. */
@Controller()
export class EdgePingHandler {
  @RpcHandler(pingContract('edge'))
  ping() {
    return { service: 'edge' as const, checks: { nats: true } };
  }
}
