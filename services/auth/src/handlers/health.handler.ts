import { Controller, Inject } from '@nestjs/common';
import { RpcHandler } from '#libs/bus';
import { pingContract } from '#libs/contracts';
import { HealthService } from '../health/health.service.js';

@Controller()
export class HealthHandler {
  constructor(@Inject(HealthService) private readonly health: HealthService) {}

  @RpcHandler(pingContract('auth'))
  ping() {
    return this.health.ping();
  }
}
