import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Bus } from '#libs/bus';
import { pingContract, type ServiceName } from '#libs/contracts';
import type { Redis } from '#libs/cache';
import { REDIS } from '../tokens.js';

const BACKEND_SERVICES: ServiceName[] = ['registry', 'auth', 'connector', 'llm-proxy'];
const PING_TIMEOUT_MS = 1_500;

/** LiteLLM's health paths: liveliness says the process runs, readiness that it can serve. No key needed. */
@Controller('health')
export class HealthController {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  @Get('liveliness')
  liveliness() {
    return "I'm alive!";
  }

  @Get('readiness')
  async readiness(@Res() res: Response) {
    const checks: Record<string, boolean> = { bus: this.bus.isConnected() };
    const pings = BACKEND_SERVICES.map(async (service) => {
      checks[service] = await this.bus.call(pingContract(service), {}, { timeoutMs: PING_TIMEOUT_MS }).then(
        () => true,
        () => false,
      );
    });
    const redis = Promise.race([this.redis.ping(), new Promise((_, reject) => setTimeout(reject, PING_TIMEOUT_MS))]).then(
      () => (checks.redis = true),
      () => (checks.redis = false),
    );
    await Promise.all([...pings, redis]);
    const healthy = Object.values(checks).every(Boolean);
    res.status(healthy ? 200 : 503).json({ status: healthy ? 'healthy' : 'unhealthy', checks });
  }
}
