import { BaseRpcContext } from '@nestjs/microservices';
import type { RequestMeta } from '#libs/contracts';

/** What a handler can learn about the call besides its data: `@Ctx() ctx: BusContext`. */
export class BusContext extends BaseRpcContext<[string, RequestMeta]> {
  get subject(): string {
    return this.args[0];
  }

  get meta(): RequestMeta {
    return this.args[1];
  }

  /** Milliseconds left of the caller's budget (Infinity when the caller set none). */
  remainingMs(): number {
    return this.meta.deadline === undefined ? Infinity : this.meta.deadline - Date.now();
  }
}
