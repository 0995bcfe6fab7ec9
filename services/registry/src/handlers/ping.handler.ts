import { Controller, Inject } from '@nestjs/common';
import { RpcHandler } from '#libs/bus';
import { pingContract } from '#libs/contracts';
import { HealthService } from '../health.service.js';

export const RegistryPing = pingContract('registry');

@Controller()
export class PingHandler {
  constructor(@Inject(HealthService) private readonly health: HealthService) {}

  @RpcHandler(RegistryPing)
  ping() {
    return this.health.ping();
  }
}
