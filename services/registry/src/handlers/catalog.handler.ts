import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RpcHandler } from '#libs/bus';
import { GetCatalog, GetServerHealth, type RequestOf } from '#libs/contracts';
import { CatalogService } from '../catalog/catalog.service.js';

@Controller()
export class CatalogHandler {
  constructor(@Inject(CatalogService) private readonly catalog: CatalogService) {}

  @RpcHandler(GetCatalog)
  get() {
    return this.catalog.getCatalog();
  }

  @RpcHandler(GetServerHealth)
  health(@Payload() request: RequestOf<typeof GetServerHealth>) {
    return this.catalog.health(request.server);
  }
}
