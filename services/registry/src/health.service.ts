import { Inject, Injectable } from '@nestjs/common';
import { BusClient } from '#libs/bus';
import { CatalogRepository } from './catalog/catalog.repository.js';
import { ServerRepository } from './servers/server.repository.js';

/** Readiness of the registry's dependencies, for pingContract('registry'). */
@Injectable()
export class HealthService {
  constructor(
    @Inject(BusClient) private readonly bus: BusClient,
    @Inject(ServerRepository) private readonly servers: ServerRepository,
    @Inject(CatalogRepository) private readonly cache: CatalogRepository,
  ) {}

  async ping(): Promise<{ service: 'registry'; checks: { nats: boolean; postgres: boolean; redis: boolean } }> {
    const [postgres, redis] = await Promise.all([this.servers.ping(), this.cache.ping()]);
    return { service: 'registry', checks: { nats: !this.bus.connection.isClosed(), postgres, redis } };
  }
}
