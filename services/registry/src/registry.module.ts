import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { Bus } from '#libs/bus';
import { KeyValueStore, type Stores } from '#libs/cache';
import { CatalogRepository } from './catalog/catalog.repository.js';
import { CatalogService } from './catalog/catalog.service.js';
import { CatalogHandler } from './handlers/catalog.handler.js';
import { PingHandler } from './handlers/ping.handler.js';
import { ServersHandler } from './handlers/servers.handler.js';
import { UpstreamOAuthHandler } from './handlers/upstream-oauth.handler.js';
import { HealthService } from './health.service.js';
import type { RegistryOptions } from './options.js';
import { CredentialCipher } from './servers/credential-cipher.js';
import { ServerRepository } from './servers/server.repository.js';
import { ServerSeeder } from './servers/server-seeder.js';
import { ServersService } from './servers/servers.service.js';
import { UpstreamPolicy } from './servers/upstream-policy.js';
import { REGISTRY_DATA_SOURCE, REGISTRY_OPTIONS } from './tokens.js';
import { CredentialVault } from './upstream-oauth/credential-vault.js';
import { UpstreamOAuthService } from './upstream-oauth/upstream-oauth.service.js';

export interface RegistryDeps {
  bus: Bus;
  dataSource: DataSource;
  /** The catalog cache lives in `stores.kv`; in one process the same instance every service shares. */
  stores: Stores;
  cipher: CredentialCipher;
  options: RegistryOptions;
  /** Close the database when the app stops (main.ts); tests close their own. The stores stay with whoever opened them. */
  closeConnectionsOnShutdown?: boolean;
}

const CLOSE_ON_SHUTDOWN = Symbol('RegistryCloseOnShutdown');

@Injectable()
class ConnectionCloser implements OnApplicationShutdown {
  constructor(
    @Inject(CLOSE_ON_SHUTDOWN) private readonly enabled: boolean,
    @Inject(REGISTRY_DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    if (!this.enabled) return;
    await this.dataSource.destroy().catch(() => undefined);
  }
}

@Module({})
export class RegistryModule {
  static register(deps: RegistryDeps): DynamicModule {
    return {
      module: RegistryModule,
      controllers: [ServersHandler, CatalogHandler, UpstreamOAuthHandler, PingHandler],
      providers: [
        { provide: Bus, useValue: deps.bus },
        { provide: REGISTRY_DATA_SOURCE, useValue: deps.dataSource },
        { provide: KeyValueStore, useValue: deps.stores.kv },
        { provide: REGISTRY_OPTIONS, useValue: deps.options },
        { provide: CredentialCipher, useValue: deps.cipher },
        { provide: CLOSE_ON_SHUTDOWN, useValue: deps.closeConnectionsOnShutdown ?? false },
        ServerRepository,
        CatalogRepository,
        ServersService,
        UpstreamPolicy,
        ServerSeeder,
        CatalogService,
        HealthService,
        CredentialVault,
        UpstreamOAuthService,
        ConnectionCloser,
      ],
    };
  }
}
