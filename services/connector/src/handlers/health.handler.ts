import { Controller } from '@nestjs/common';
import { RpcHandler } from '#libs/bus';
import { pingContract } from '#libs/contracts';

@Controller()
export class HealthHandler {
  /** Answering at all proves the NATS connection; upstream health is the registry's business. */
  @RpcHandler(pingContract('connector'))
  ping() {
    return { service: 'connector' as const, checks: { bus: true } };
  }
}
