import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import type { z } from 'zod';
import { BusContext, RpcHandler } from '#libs/bus';
import { CreateChatCompletion, CreateResponse, GetResponse } from '#libs/contracts';
import { ChatService } from '../chat/chat.service.js';
import { ResponsesService } from '../responses/responses.service.js';

/** Chat Completions and Responses: streamed answers travel as bus messages ahead of the reply. */
@Controller()
export class CompletionsHandler {
  constructor(
    @Inject(ChatService) private readonly chat: ChatService,
    @Inject(ResponsesService) private readonly responses: ResponsesService,
  ) {}

  @RpcHandler(CreateChatCompletion)
  chatCompletion(@Payload() request: z.output<typeof CreateChatCompletion.request>, @Ctx() ctx: BusContext) {
    return this.chat.create(request, (event) => ctx.send(event));
  }

  @RpcHandler(CreateResponse)
  createResponse(@Payload() request: z.output<typeof CreateResponse.request>, @Ctx() ctx: BusContext) {
    return this.responses.create(request, (event) => ctx.send(event));
  }

  @RpcHandler(GetResponse)
  getResponse(@Payload() request: z.output<typeof GetResponse.request>) {
    return this.responses.get(request.caller, request.id);
  }
}
