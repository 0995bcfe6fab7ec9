import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { ConnectorStarted } from '#libs/contracts';

/**
 * Tells the registry that this replica answers, so that servers it could not fetch for want of a connector are
 * fetched now rather than at their next retry. Nest runs bootstrap hooks just before the bus transport starts
 * serving, so the event goes out on the next turn of the event loop, once the handlers answer. (Were it early
 * after all, the registry's next retry, 0.5 s later, finds the connector.)
 */
@Injectable()
export class ConnectorAnnouncer implements OnApplicationBootstrap {
  readonly replicaId = randomUUID();

  constructor(@Inject(Bus) private readonly bus: Bus) {}

  onApplicationBootstrap(): void {
    setImmediate(() => this.bus.publish(ConnectorStarted, { replica_id: this.replicaId }));
  }
}
