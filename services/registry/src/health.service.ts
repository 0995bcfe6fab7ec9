import { Inject, Injectable } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { CatalogRepository } from './catalog/catalog.repository.js';
import { ServerRepository } from './servers/server.repository.js';

/** Readiness of the registry's dependencies, for pingContract('registry'). */
@Injectable()
export class HealthService {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(ServerRepository) private readonly servers: ServerRepository,
    @Inject(CatalogRepository) private readonly cache: CatalogRepository,
  ) {}

  async ping(): Promise<{ service: 'registry'; checks: { bus: boolean; postgres: boolean; store: boolean } }> {
    const [postgres, store] = await Promise.all([this.servers.ping(), this.cache.ping()]);
    return { service: 'registry', checks: { bus: this.bus.isConnected(), postgres, store } };
  }
}
