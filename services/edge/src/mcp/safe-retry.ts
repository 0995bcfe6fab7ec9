import { DomainError, type RequestOf, type UpstreamRequest } from '#libs/contracts';

/**
 * Requests that may be sent again after the connector carrying them died mid-call: reads and lists, whose
 * repetition changes nothing upstream. Never a tool call (it may have run: only the client may send it again,
 * whatever the tool's annotations claim), never the continuation of a parked call, never a subscription change.
 */
const REPEATABLE_METHODS = new Set(['ping', 'tools/list', 'prompts/list', 'prompts/get', 'resources/list', 'resources/templates/list', 'resources/read', 'completion/complete']);

/** True when `error` says the replica carrying the call was lost with it (bus liveness: silent, or a message lost). */
export function lostWithItsReplica(error: unknown): boolean {
  return error instanceof DomainError && error.code === 'UPSTREAM_UNAVAILABLE' && (error.details?.callee_lost === true || error.details?.stream_lost === true);
}

/** Whether this request, lost with its connector, is sent once more to another connector (docs/architecture.md, "Faults"). */
export function repeatableAfterLoss(request: RequestOf<typeof UpstreamRequest>, error: unknown): boolean {
  return REPEATABLE_METHODS.has(request.method) && request.resume === undefined && lostWithItsReplica(error);
}
