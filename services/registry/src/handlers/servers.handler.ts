import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RpcHandler } from '#libs/bus';
import {
  CheckServer,
  CreateServer,
  DeleteServer,
  GetServer,
  ListAccessGroups,
  ListServers,
  ResolveServer,
  type CheckServerCall,
  type CreateServerCall,
  type RequestOf,
  type UpdateServerCall,
  UpdateServer,
} from '#libs/contracts';
import { ServersService } from '../servers/servers.service.js';

@Controller()
export class ServersHandler {
  constructor(@Inject(ServersService) private readonly servers: ServersService) {}

  @RpcHandler(ListServers)
  list() {
    return this.servers.list();
  }

  @RpcHandler(GetServer)
  get(@Payload() request: RequestOf<typeof GetServer>) {
    return this.servers.get(request.server);
  }

  @RpcHandler(CreateServer)
  create(@Payload() request: CreateServerCall) {
    return this.servers.create(request);
  }

  @RpcHandler(UpdateServer)
  update(@Payload() request: UpdateServerCall) {
    return this.servers.update(request);
  }

  @RpcHandler(DeleteServer)
  delete(@Payload() request: RequestOf<typeof DeleteServer>) {
    return this.servers.delete(request.server);
  }

  @RpcHandler(ResolveServer)
  resolve(@Payload() request: RequestOf<typeof ResolveServer>) {
    return this.servers.resolve(request.server_id);
  }

  @RpcHandler(CheckServer)
  check(@Payload() request: CheckServerCall) {
    return this.servers.check(request);
  }

  @RpcHandler(ListAccessGroups)
  accessGroups() {
    return this.servers.accessGroups();
  }
}
