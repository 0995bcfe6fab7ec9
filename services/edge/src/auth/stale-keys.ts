import { DomainError } from '#libs/contracts';

/**
 * Keys verified before keep working while they cannot be verified again (docs/architecture.md, "Postgres down"):
 * when `auth` cannot answer (it or its database is unreachable, the bus timed out), a principal verified within
 * STALE_LIMIT_MS serves, and is tried again at most once per RETRY_MS. A key that auth refuses is refused at once.
 */
export const STALE_LIMIT_MS = 60 * 60_000;
export const STALE_RETRY_MS = 1_000;

/** True when `error` says the key could not be verified now, not that it is refused. */
export function cannotVerifyNow(error: unknown): boolean {
  return error instanceof DomainError && error.code !== 'UNAUTHENTICATED' && (error.retryable || error.code === 'BUS_TIMEOUT' || error.code === 'UPSTREAM_UNAVAILABLE');
}
