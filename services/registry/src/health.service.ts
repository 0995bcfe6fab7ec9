import { Inject, Injectable } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { CatalogRepository } from './catalog/catalog.repository.js';
import { CatalogService } from './catalog/catalog.service.js';
import { ServerRepository } from './servers/server.repository.js';

/**
 * Readiness of the registry, for pingContract('registry'): its dependencies, and `catalog`: every server has been
 * fetched once (answered, or failed on its own account; a server no connector answered for yet holds it back).
 */
@Injectable()
export class HealthService {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(ServerRepository) private readonly servers: ServerRepository,
    @Inject(CatalogRepository) private readonly cache: CatalogRepository,
    @Inject(CatalogService) private readonly catalog: CatalogService,
  ) {}

  async ping(): Promise<{ service: 'registry'; checks: { bus: boolean; postgres: boolean; store: boolean; catalog: boolean } }> {
    const [postgres, store] = await Promise.all([this.servers.ping(), this.cache.ping()]);
    return { service: 'registry', checks: { bus: this.bus.isConnected(), postgres, store, catalog: this.catalog.isReady() } };
  }
}
