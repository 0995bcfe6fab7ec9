import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Bus } from '#libs/bus';
import { pingContract, type ServiceName } from '#libs/contracts';
import { KeyValueStore } from '#libs/cache';
import { readinessOf } from './readiness.js';

const BACKEND_SERVICES: ServiceName[] = ['registry', 'auth', 'connector', 'llm-proxy'];
const PING_TIMEOUT_MS = 1_500;

/**
 * LiteLLM's health paths: liveliness says the process runs, readiness that it can serve. No key needed.
 * Readiness asks every service: 503 when one does not answer or fails a check it cannot serve without (the
 * registry's `catalog`: every server fetched once); 200 `degraded` while only Redis or Postgres is down, which the
 * gateway serves through (readiness.ts). `services` shows each one's checks.
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
    const own: Record<string, boolean> = { bus: this.bus.isConnected() };
    const services: Record<string, Record<string, boolean> | undefined> = {};
    const pings = BACKEND_SERVICES.map(async (service) => {
      services[service] = (await this.bus.call(pingContract(service), {}, { timeoutMs: PING_TIMEOUT_MS }).catch(() => undefined))?.checks;
    });
    const store = this.store.ping().then((answered) => (own.store = answered)); // bounded in time by the store
    await Promise.all([...pings, store]);
    const { status, degraded } = readinessOf(own, services);
    // `checks`: the edge's own, and each service as a whole (answered, every check passed)
    const checks = { ...own, ...Object.fromEntries(BACKEND_SERVICES.map((s) => [s, !!services[s] && Object.values(services[s]).every(Boolean)])) };
    res.status(status === 'unhealthy' ? 503 : 200).json({ status, checks, degraded, services });
  }
}
