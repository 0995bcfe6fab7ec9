import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type Principal } from '#libs/contracts';
import { RateLimiter, type RateDecision } from '#libs/permissions';
import { Metrics } from '#libs/observability';

export type Release = () => void;
const NOTHING_TO_RELEASE: Release = () => undefined;

/**
 * rpm_limit and max_parallel_requests of a key, its team and its organization, counted in Redis so that every
 * edge replica shares one count. Keys without limits (and the master key) make no Redis round trip.
 * The two are separate steps: every authenticated HTTP request to a counted path is counted once against rpm_limit
 * (`countRequest`, right after authentication: SPEC section 4), and the requests that do work hold a parallel slot
 * while they run (`admit`).
 */
@Injectable()
export class UsageLimiter {
  constructor(@Inject(RateLimiter) private readonly limiter: RateLimiter) {}

  /** Counts one HTTP request against the rpm_limit of the key, its team and its organization; throws RATE_LIMITED over any. */
  async countRequest(principal: Principal): Promise<void> {
    if (principal.kind === 'master' || !principal.token_hash) return;
    const team = principal.team_id ? `team:${principal.team_id}` : null;
    const org = principal.organization_id ? `org:${principal.organization_id}` : null;
    const windows = await Promise.all([
      this.limiter.hit(principal.token_hash, principal.rpm_limit),
      team ? this.limiter.hit(team, principal.team_rpm_limit) : undefined,
      org ? this.limiter.hit(org, principal.organization_rpm_limit) : undefined,
    ]);
    const overRate = windows.findIndex((d) => d && !d.allowed);
    if (overRate >= 0) throw rateLimited(windows[overRate]!, ['key', 'team', 'organization'][overRate]!, 'rpm_limit');
  }

  /**
   * Takes a max_parallel_requests slot of the key and its team for one request's work, or throws RATE_LIMITED
   * (retry information in details); call the returned function when done. The request was counted already.
   */
  async admit(principal: Principal): Promise<Release> {
    if (principal.kind === 'master' || !principal.token_hash) return NOTHING_TO_RELEASE;
    const key = principal.token_hash;
    const team = principal.team_id ? `team:${principal.team_id}` : null;
    const slots: [string, number | null | undefined][] = [[key, principal.max_parallel_requests]];
    if (team) slots.push([team, principal.team_max_parallel_requests]);
    const taken: [string, number | null | undefined][] = [];
    for (const [id, limit] of slots) {
      const decision = await this.limiter.acquire(id, limit);
      if (!decision.allowed) {
        await Promise.all(taken.map(([takenId, takenLimit]) => this.limiter.release(takenId, takenLimit)));
        throw rateLimited(decision, id === key ? 'key' : 'team', 'max_parallel_requests');
      }
      if (decision.limit !== null) taken.push([id, limit]);
    }
    if (taken.length === 0) return NOTHING_TO_RELEASE;
    return () => void Promise.all(taken.map(([id, limit]) => this.limiter.release(id, limit))).catch(() => undefined);
  }
}

/** The refusal, counted in the metrics (switchboard_rate_limit_refusals_total). */
function rateLimited(decision: RateDecision, level: string, limit: string): DomainError {
  Metrics.rateLimitRefusals.inc({ limit, level });
  return new DomainError('RATE_LIMITED', `${level} ${limit} of ${decision.limit} exceeded; retry in ${decision.retryAfterSeconds}s`, {
    retry_after_seconds: decision.retryAfterSeconds,
    limit: decision.limit,
    level,
    limit_name: limit,
  });
}
