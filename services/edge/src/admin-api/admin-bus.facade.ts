import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { z } from 'zod';
import { Bus } from '#libs/bus';
import { ADMIN_API, AdminRequestMeta } from '#libs/contracts';
import { AdminGate } from './admin-gate.js';
import { AdminOperations } from './admin-operations.js';

/** Replicas of the edge share the admin subjects: each request reaches one of them. */
const QUEUE_GROUP = 'edge-admin';
const DRAIN_MS = 3_000;

/**
 * The public admin API on the bus (`sb.v1.admin.…`, docs/nats-api.md): a thin facade that checks the credential in
 * the request's `meta.authorization` and runs the operation, which forwards to the internal subjects. On the
 * in-process bus (no NATS_URL) it answers only inside the process.
 */
@Injectable()
export class AdminBusFacade implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('AdminBusFacade');
  private readonly stops: (() => void)[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(AdminGate) private readonly gate: AdminGate,
    @Inject(AdminOperations) private readonly operations: AdminOperations,
  ) {}

  onApplicationBootstrap(): void {
    for (const { contract } of ADMIN_API) {
      // served with the request unparsed, so that the credential is checked first: a caller without one learns
      // nothing, not even which field of its body is wrong; the contract parses the request right after
      this.stops.push(
        this.bus.serve({ ...contract, request: z.unknown() }, QUEUE_GROUP, (data, context) => {
          const call = (async () => {
            const meta = AdminRequestMeta.partial().safeParse(context.meta ?? {});
            const authorization = meta.success ? meta.data.authorization : undefined;
            const principal = await this.gate.admit(authorization);
            const request = contract.request.parse(data);
            return this.operations.run(contract, request as never, { principal, ...(context.meta?.deadline ? { deadline: context.meta.deadline } : {}) });
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
    this.log.log(`admin API on the ${this.bus.kind} bus: ${ADMIN_API.length} subjects sb.v1.admin.*`);
  }

  /** Stops taking requests, then lets those in flight finish (bounded) before the bus closes. */
  async onModuleDestroy(): Promise<void> {
    for (const stop of this.stops.splice(0)) stop();
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
    clearTimeout(timer);
  }
}
