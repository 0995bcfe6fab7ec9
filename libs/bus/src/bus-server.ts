import { Server, type CustomTransportStrategy } from '@nestjs/microservices';
import { isObservable, lastValueFrom } from 'rxjs';
import type { Contract } from '#libs/contracts';
import { Bus } from './bus.js';
import { BusContext } from './bus-context.js';
import { CONTRACT_EXTRA } from './rpc-handler.decorator.js';

/**
 * Nest transport strategy that serves every @RpcHandler on its contract's subject, on whichever Bus it is given.
 * Replicas of a service share a queue group, so each request reaches exactly one of them.
 */
export class BusServer extends Server implements CustomTransportStrategy {
  private readonly stops: (() => void)[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly bus: Bus,
    private readonly queueGroup: string,
    /** On close, how long calls already taken may run on before the service's modules are torn down. */
    private readonly drainMs = 3_000,
  ) {
    super();
  }

  listen(callback: (...args: unknown[]) => void): void {
    for (const [pattern, handler] of this.messageHandlers) {
      const contract = handler.extras?.[CONTRACT_EXTRA] as Contract | undefined;
      if (!contract) throw new Error(`handler for ${pattern} was not declared with @RpcHandler`);
      this.stops.push(
        this.bus.serve(contract, this.queueGroup, (data, context) => {
          const call = (async () => {
            const output = await handler(data, new BusContext([context]));
            return isObservable(output) ? await lastValueFrom(output) : output;
          })();
          this.inFlight.add(call);
          void call.then(
            () => this.inFlight.delete(call),
            () => this.inFlight.delete(call),
          );
          return call;
        }),
      );
    }
    callback();
  }

  /** Stops taking calls, then lets the ones already taken finish (bounded) before Nest destroys the modules. */
  async close(): Promise<void> {
    for (const stop of this.stops.splice(0)) stop();
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((resolve) => (timer = setTimeout(resolve, this.drainMs)))]);
    clearTimeout(timer);
  }

  on(): never {
    throw new Error('BusServer has no events to listen to');
  }

  unwrap<T>(): T {
    return this.bus as T;
  }
}
