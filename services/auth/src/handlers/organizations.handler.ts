import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RpcHandler } from '#libs/bus';
import { DeleteOrganizations, GetOrganizationInfo, ListOrganizations, NewOrganization, UpdateOrganization } from '#libs/contracts';
import type { z } from 'zod';
import { OrganizationsService } from '../organizations/organizations.service.js';

type In<C extends { request: z.ZodType }> = z.output<C['request']>;

@Controller()
export class OrganizationsHandler {
  constructor(@Inject(OrganizationsService) private readonly organizations: OrganizationsService) {}

  @RpcHandler(NewOrganization)
  create(@Payload() request: In<typeof NewOrganization>) {
    return this.organizations.create(request);
  }

  @RpcHandler(UpdateOrganization)
  update(@Payload() request: In<typeof UpdateOrganization>) {
    return this.organizations.update(request);
  }

  @RpcHandler(DeleteOrganizations)
  delete(@Payload() request: In<typeof DeleteOrganizations>) {
    return this.organizations.delete(request.organization_ids);
  }

  @RpcHandler(GetOrganizationInfo)
  info(@Payload() request: In<typeof GetOrganizationInfo>) {
    return this.organizations.info(request.organization_id);
  }

  @RpcHandler(ListOrganizations)
  list() {
    return this.organizations.list();
  }
}
