import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import type { z } from 'zod';
import { BusContext, RpcHandler } from '#libs/bus';
import { CreateChatCompletion, CreateResponse, GetResponse } from '#libs/contracts';
import { Cancellations } from '../chat/cancellations.js';
import { ChatService } from '../chat/chat.service.js';
import { ResponsesService } from '../responses/responses.service.js';

/**
 * Chat Completions and Responses: streamed answers travel as bus messages ahead of the reply. A request whose client
 * went away (LlmRequestCancelled with its cancel id) is aborted.
 */
@Controller()
export class CompletionsHandler {
  constructor(
    @Inject(ChatService) private readonly chat: ChatService,
    @Inject(ResponsesService) private readonly responses: ResponsesService,
    @Inject(Cancellations) private readonly cancellations: Cancellations,
  ) {}

  @RpcHandler(CreateChatCompletion)
  chatCompletion(@Payload() request: z.output<typeof CreateChatCompletion.request>, @Ctx() ctx: BusContext) {
    return this.cancellable(request.cancel_id, (signal) => this.chat.create(request, (event) => ctx.send(event), signal));
  }

  @RpcHandler(CreateResponse)
  createResponse(@Payload() request: z.output<typeof CreateResponse.request>, @Ctx() ctx: BusContext) {
    return this.cancellable(request.cancel_id, (signal) => this.responses.create(request, (event) => ctx.send(event), signal));
  }

  private async cancellable<T>(cancelId: string | undefined, run: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    const cancellation = this.cancellations.track(cancelId);
    try {
      return await run(cancellation.signal);
    } finally {
      cancellation.done();
    }
  }

  @RpcHandler(GetResponse)
  getResponse(@Payload() request: z.output<typeof GetResponse.request>) {
    return this.responses.get(request.caller, request.id);
  }
}
