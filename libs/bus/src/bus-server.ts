import { Logger } from '@nestjs/common';
import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import type { Msg, Subscription } from '@nats-io/transport-node';
import { isObservable, lastValueFrom } from 'rxjs';
import { ErrorEnvelope, toErrorEnvelope, type Contract } from '#libs/contracts';
import { BusClient, encodeJson, type WireReply, type WireRequest } from './bus-client.js';
import { BusContext } from './bus-context.js';
import { CONTRACT_EXTRA } from './rpc-handler.decorator.js';

/**
 * Nest transport strategy that serves every @RpcHandler on its contract's subject. Replicas of a service share
 * a NATS queue group, so each request reaches exactly one of them and adding replicas adds capacity.
 */
export class BusServer extends Server implements CustomTransportStrategy {
  private readonly subscriptions: Subscription[] = [];
  private readonly log = new Logger(BusServer.name);

  constructor(
    private readonly bus: BusClient,
    private readonly queueGroup: string,
  ) {
    super();
  }

  listen(callback: (...args: unknown[]) => void): void {
    for (const [pattern, handler] of this.messageHandlers) {
      const contract = handler.extras?.[CONTRACT_EXTRA] as Contract | undefined;
      if (!contract) throw new Error(`handler for ${pattern} was not declared with @RpcHandler`);
      const sub = this.bus.connection.subscribe(this.bus.subject(contract.subject), {
        queue: this.queueGroup,
        callback: (err, msg) => {
          if (!err) void this.serve(contract, handler, msg);
        },
      });
      this.subscriptions.push(sub);
    }
    callback();
  }

  private async serve(contract: Contract, handler: MessageHandler, msg: Msg): Promise<void> {
    let reply: WireReply;
    try {
      const wire = msg.json<WireRequest>();
      const data = contract.request.parse(wire.data);
      const context = new BusContext([msg.subject, wire.meta ?? {}]);
      const output = await handler(data, context);
      const value = isObservable(output) ? await lastValueFrom(output) : output;
      reply = { ok: true, data: contract.reply.parse(value) };
    } catch (error) {
      const parsed = ErrorEnvelope.safeParse(error);
      reply = { ok: false, error: parsed.success ? parsed.data : toErrorEnvelope(error) };
      if (reply.error.code === 'INTERNAL') this.log.error(`${contract.name}: ${reply.error.message}`);
    }
    if (msg.reply) msg.respond(encodeJson(reply));
  }

  async close(): Promise<void> {
    for (const sub of this.subscriptions.splice(0)) sub.unsubscribe();
  }

  on(): never {
    throw new Error('BusServer has no events to listen to');
  }

  unwrap<T>(): T {
    return this.bus.connection as T;
  }
}
