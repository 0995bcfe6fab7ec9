import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RpcHandler } from '#libs/bus';
import { ResolveTokenPrincipal, type RequestOf } from '#libs/contracts';
import { TokenPrincipalsService } from '../oauth/token-principals.service.js';

@Controller()
export class TokenPrincipalsHandler {
  constructor(@Inject(TokenPrincipalsService) private readonly principals: TokenPrincipalsService) {}

  @RpcHandler(ResolveTokenPrincipal)
  resolve(@Payload() request: RequestOf<typeof ResolveTokenPrincipal>) {
    return this.principals.resolve(request);
  }
}
