/**
 * Which failed checks leave the gateway serving (docs/SPEC.md, "What clients see when something fails"): with Redis
 * down the edges keep sessions and rate limits in memory, with Postgres down keys verified before and the servers the
 * connectors know keep working. Every replica shares these dependencies, so failing readiness on them would take
 * every edge out of its load balancer at once and turn a degraded gateway into an outage.
 */
const SURVIVABLE_CHECKS = new Set(['store', 'postgres']);

export type ReadinessStatus = 'healthy' | 'degraded' | 'unhealthy';

export interface ReadinessVerdict {
  status: ReadinessStatus;
  /** The failed checks the gateway serves through: `store` (the edge's), `<service>.<check>` (a service's). */
  degraded: string[];
}

/**
 * The edge's own checks and each service's reply (undefined: no replica answered). Unhealthy when the bus is down,
 * a service does not answer or one of its other checks fails (the registry's `catalog` before every server was
 * fetched once); degraded when only survivable checks fail.
 */
export function readinessOf(own: Record<string, boolean>, services: Record<string, Record<string, boolean> | undefined>): ReadinessVerdict {
  const degraded: string[] = [];
  let serving = true;
  const note = (name: string, check: string, passed: boolean) => {
    if (passed) return;
    if (SURVIVABLE_CHECKS.has(check)) degraded.push(name);
    else serving = false;
  };
  for (const [check, passed] of Object.entries(own)) note(check, check, passed);
  for (const [service, checks] of Object.entries(services)) {
    if (!checks) serving = false;
    else for (const [check, passed] of Object.entries(checks)) note(`${service}.${check}`, check, passed);
  }
  return { status: !serving ? 'unhealthy' : degraded.length > 0 ? 'degraded' : 'healthy', degraded };
}
