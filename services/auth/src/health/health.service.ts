import { Inject, Injectable } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { HealthRepository } from './health.repository.js';

@Injectable()
export class HealthService {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(HealthRepository) private readonly repository: HealthRepository,
  ) {}

  async ping() {
    return { service: 'auth' as const, checks: { bus: this.bus.isConnected(), postgres: await this.repository.postgresAnswers() } };
  }
}
