import { BaseRpcContext } from '@nestjs/microservices';
import type { RequestMeta } from '#libs/contracts';
import type { ServeContext } from './bus.js';

/** What a handler can learn about the call besides its data: `@Ctx() ctx: BusContext`. */
export class BusContext extends BaseRpcContext<[ServeContext]> {
  get subject(): string {
    return this.args[0].subject;
  }

  get meta(): RequestMeta {
    return this.args[0].meta;
  }

  /** Streams a message to the caller ahead of the reply (the contract's `message` schema). */
  send(message: unknown): void {
    this.args[0].send(message);
  }

  /** Milliseconds left of the caller's budget (Infinity when the caller set none). */
  remainingMs(): number {
    return this.meta.deadline === undefined ? Infinity : this.meta.deadline - Date.now();
  }
}
