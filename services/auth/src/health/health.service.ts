import { Inject, Injectable } from '@nestjs/common';
import { BusClient } from '#libs/bus';
import { HealthRepository } from './health.repository.js';

@Injectable()
export class HealthService {
  constructor(
    @Inject(BusClient) private readonly bus: BusClient,
    @Inject(HealthRepository) private readonly repository: HealthRepository,
  ) {}

  async ping() {
    return { service: 'auth' as const, checks: { nats: !this.bus.connection.isClosed(), postgres: await this.repository.postgresAnswers() } };
  }
}
