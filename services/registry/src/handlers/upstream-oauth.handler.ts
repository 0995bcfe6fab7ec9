import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RpcHandler } from '#libs/bus';
import { ApproveUpstreamConsent, CompleteUpstreamAuthorization, DescribeUpstreamConsent, GetUpstreamToken, ListUpstreamGrants, RevokeUpstreamGrant, type RequestOf } from '#libs/contracts';
import { UpstreamOAuthService } from '../upstream-oauth/upstream-oauth.service.js';

@Controller()
export class UpstreamOAuthHandler {
  constructor(@Inject(UpstreamOAuthService) private readonly oauth: UpstreamOAuthService) {}

  @RpcHandler(GetUpstreamToken)
  token(@Payload() request: RequestOf<typeof GetUpstreamToken>) {
    return this.oauth.token(request);
  }

  @RpcHandler(DescribeUpstreamConsent)
  describe(@Payload() request: RequestOf<typeof DescribeUpstreamConsent>) {
    return this.oauth.describe(request);
  }

  @RpcHandler(ApproveUpstreamConsent)
  approve(@Payload() request: RequestOf<typeof ApproveUpstreamConsent>) {
    return this.oauth.approve(request);
  }

  @RpcHandler(CompleteUpstreamAuthorization)
  complete(@Payload() request: RequestOf<typeof CompleteUpstreamAuthorization>) {
    return this.oauth.complete(request);
  }

  @RpcHandler(ListUpstreamGrants)
  grants(@Payload() request: RequestOf<typeof ListUpstreamGrants>) {
    return this.oauth.grants(request);
  }

  @RpcHandler(RevokeUpstreamGrant)
  revoke(@Payload() request: RequestOf<typeof RevokeUpstreamGrant>) {
    return this.oauth.revoke(request);
  }
}
