import { Controller, UseFilters } from '@nestjs/common';
import { RpcErrorFilter, RpcHandler } from '#libs/bus';
import { pingContract } from '#libs/contracts';

/** Answers readiness pings on the bus, like every other service. (The edge is an HTTP app, so the bus error filter
 * is attached here rather than globally.) */
@Controller()
@UseFilters(new RpcErrorFilter())
export class EdgePingHandler {
  @RpcHandler(pingContract('edge'))
  ping() {
    return { service: 'edge' as const, checks: { nats: true } };
  }
}
