/**
 * Multi round-trip requests (MCP 2026-07-28) as the edge bridges them. A modern client's call can come back
 * `input_required` two ways: a 2025-era upstream asked the client something during the call (the connector parks
 * the call and says where), or a 2026-07-28 upstream answered `input_required` itself. Either way the client gets
 * a requestState sealed by the gateway, and its retry, on any edge replica, is routed by what that state says:
 * to the connector instance holding the parked call, or back to the upstream with the upstream's own state.
 */
import { createHash } from 'node:crypto';
import { PARK_TIMEOUT_MS, type InputRequired, type Principal } from '#libs/contracts';
import { JsonRpcError, JsonRpcErrorCode } from './jsonrpc.js';
import type { RequestStateSealer } from './request-state.js';

/** Who a requestState is bound to: the key's hash (the master key has none). */
export function callerOf(principal: Principal): string {
  return principal.token_hash ?? `master:${principal.key_alias ?? ''}`;
}

/**
 * Which request a requestState belongs to: the caller, the server, the method, the tool/prompt name or URI and
 * the arguments, as the retry must repeat them. A state is refused on any other request (it would answer the
 * parked call's question with another request's name on it).
 */
export interface RequestIdentity {
  caller: string;
  serverId: string;
  method: string;
  params: Record<string, unknown>;
}

function fingerprint(request: RequestIdentity): string {
  const { params } = request;
  const target = typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : '';
  return createHash('sha256')
    .update(JSON.stringify([request.method, target, params.arguments ?? null]))
    .digest('base64url')
    .slice(0, 22);
}

/** What a modern retry continues. */
export type Continuation =
  | { kind: 'call'; params: Record<string, unknown> }
  | { kind: 'resume'; instance: string; park_id: string; responses: Record<string, unknown> };

export const INVALID_REQUEST_STATE = 'Invalid params: requestState is invalid or has expired';

export class InputRequiredBridge {
  constructor(private readonly sealer: RequestStateSealer) {}

  /**
   * A modern request's params, read for a retry: without requestState a call as any other; with one of ours, the
   * parked call to resume or the upstream's own state restored. Anything else (altered, expired, another caller's,
   * another server's) is refused before anything reaches an upstream.
   */
  continuation(request: RequestIdentity): Continuation {
    const { params } = request;
    if (params.requestState === undefined) return { kind: 'call', params };
    const claims = this.sealer.open(params.requestState);
    if (!claims || claims.principal !== request.caller || claims.server_id !== request.serverId || claims.request !== fingerprint(request)) {
      throw new JsonRpcError(JsonRpcErrorCode.INVALID_PARAMS, INVALID_REQUEST_STATE, { reason: 'invalid' });
    }
    if (claims.kind === 'upstream') return { kind: 'call', params: { ...params, requestState: claims.state } };
    const responses = params.inputResponses;
    if (responses !== undefined && (typeof responses !== 'object' || responses === null || Array.isArray(responses))) {
      throw new JsonRpcError(JsonRpcErrorCode.INVALID_PARAMS, 'Invalid params: inputResponses must be an object');
    }
    return { kind: 'resume', instance: claims.instance, park_id: claims.park_id, responses: (responses ?? {}) as Record<string, unknown> };
  }

  /** A parked call's questions, as the client sees them. */
  parked(input: InputRequired, instance: string, request: RequestIdentity): Record<string, unknown> {
    const requestState = this.sealer.seal(
      { kind: 'parked', instance, park_id: input.park_id, server_id: request.serverId, principal: request.caller, request: fingerprint(request) },
      PARK_TIMEOUT_MS,
    );
    return { resultType: 'input_required', inputRequests: input.requests, requestState };
  }

  /** A modern upstream's result: its own requestState, if any, goes out sealed in ours. */
  upstreamResult(result: Record<string, unknown>, request: RequestIdentity): Record<string, unknown> {
    if (result.resultType !== 'input_required' || typeof result.requestState !== 'string') return result;
    const state = { kind: 'upstream' as const, state: result.requestState, server_id: request.serverId, principal: request.caller, request: fingerprint(request) };
    return { ...result, requestState: this.sealer.seal(state, PARK_TIMEOUT_MS) };
  }
}

/** The connector's answer when the call a requestState names is no longer held there. */
export function callGone(message: string): JsonRpcError {
  return new JsonRpcError(JsonRpcErrorCode.INVALID_PARAMS, `Invalid params: ${message}`, { reason: 'gone' });
}
