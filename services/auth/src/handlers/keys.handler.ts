import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RpcHandler } from '#libs/bus';
import { DeleteKeys, GenerateKey, GetKeyInfo, ListKeys, UpdateKey, VerifyKey } from '#libs/contracts';
import type { z } from 'zod';
import { KeysService } from '../keys/keys.service.js';

type In<C extends { request: z.ZodType }> = z.output<C['request']>;

@Controller()
export class KeysHandler {
  constructor(@Inject(KeysService) private readonly keys: KeysService) {}

  @RpcHandler(VerifyKey)
  verify(@Payload() request: In<typeof VerifyKey>) {
    return this.keys.verify(request.key, request.by_reference ?? false);
  }

  @RpcHandler(GenerateKey)
  generate(@Payload() request: In<typeof GenerateKey>) {
    return this.keys.generate(request);
  }

  @RpcHandler(UpdateKey)
  update(@Payload() request: In<typeof UpdateKey>) {
    return this.keys.update(request);
  }

  @RpcHandler(DeleteKeys)
  delete(@Payload() request: In<typeof DeleteKeys>) {
    return this.keys.delete(request);
  }

  @RpcHandler(GetKeyInfo)
  info(@Payload() request: In<typeof GetKeyInfo>) {
    return this.keys.info(request.key);
  }

  @RpcHandler(ListKeys)
  list(@Payload() request: In<typeof ListKeys>) {
    return this.keys.list(request);
  }
}
