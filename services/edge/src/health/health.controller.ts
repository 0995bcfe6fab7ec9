import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Bus } from '#libs/bus';
import { pingContract, type ServiceName } from '#libs/contracts';
import { KeyValueStore } from '#libs/cache';

const BACKEND_SERVICES: ServiceName[] = ['registry', 'auth', 'connector', 'llm-proxy'];
const PING_TIMEOUT_MS = 1_500;

/**
 * LiteLLM's health paths: liveliness says the process runs, readiness that it can serve. No key needed.
 * Readiness asks every service: one counts as ready when it answers and every check of its own passes (the
 * registry's `catalog`: every server fetched once). `services` shows each one's checks.
 */
@Controller('health')
export class HealthController {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(KeyValueStore) private readonly store: KeyValueStore,
  ) {}

  @Get('liveliness')
  liveliness() {
    return "I'm alive!";
  }

  @Get('readiness')
  async readiness(@Res() res: Response) {
    const checks: Record<string, boolean> = { bus: this.bus.isConnected() };
    const services: Record<string, Record<string, boolean>> = {};
    const pings = BACKEND_SERVICES.map(async (service) => {
      const reply = await this.bus.call(pingContract(service), {}, { timeoutMs: PING_TIMEOUT_MS }).catch(() => undefined);
      if (reply) services[service] = reply.checks;
      checks[service] = reply !== undefined && Object.values(reply.checks).every(Boolean);
    });
    const store = this.store.ping().then((answered) => (checks.store = answered)); // bounded in time by the store
    await Promise.all([...pings, store]);
    const healthy = Object.values(checks).every(Boolean);
    res.status(healthy ? 200 : 503).json({ status: healthy ? 'healthy' : 'unhealthy', checks, services });
  }
}
