import { ErrorCode as McpErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { DomainError } from '#libs/contracts';
import { UpstreamUrlRefused } from '#libs/net-guard';
import { SessionExpiredError, UpstreamHttpError } from './http-transport.js';

/** JSON-RPC error codes an upstream may answer with that mean "no such thing". */
const NOT_FOUND_CODES = new Set<number>([McpErrorCode.MethodNotFound, -32002 /* resource not found */]);

/**
 * Turns whatever an upstream call threw into the bus vocabulary: unreachable → UPSTREAM_UNAVAILABLE, too slow →
 * UPSTREAM_TIMEOUT, the upstream's own JSON-RPC error → INVALID_ARGUMENT / NOT_FOUND carrying its code and data.
 */
export function toUpstreamError(error: unknown, server: string, timeoutMs: number): DomainError {
  if (error instanceof DomainError) return error;
  if (error instanceof UpstreamUrlRefused) {
    // not retryable: the address is refused by the rules, not down (the registry's catalog refresh still retries)
    return new DomainError('UPSTREAM_UNAVAILABLE', `upstream ${server} refused: ${error.message}`, { server, reason: error.reason }, false);
  }
  if (error instanceof McpError) {
    const data = (error as McpError & { data?: unknown }).data;
    if (error.code === McpErrorCode.RequestTimeout && isSdkTimeout(data)) {
      return new DomainError('UPSTREAM_TIMEOUT', `upstream ${server} did not answer within ${timeoutMs} ms`, { server, timeout_ms: timeoutMs });
    }
    if (error.code === McpErrorCode.ConnectionClosed) {
      return new DomainError('UPSTREAM_UNAVAILABLE', `upstream ${server} closed the connection`, { server });
    }
    const message = error.message.replace(/^MCP error -?\d+: /, '');
    const code = NOT_FOUND_CODES.has(error.code) ? 'NOT_FOUND' : 'INVALID_ARGUMENT';
    return new DomainError(code, message, { server, jsonrpc_code: error.code, ...(data !== undefined ? { data } : {}) });
  }
  if (error instanceof SessionExpiredError) {
    return new DomainError('UPSTREAM_UNAVAILABLE', `upstream ${server} lost our session twice in a row`, { server });
  }
  if (error instanceof UpstreamHttpError) {
    return new DomainError('UPSTREAM_UNAVAILABLE', `upstream ${server}: ${error.message}`, { server, http_status: error.status });
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown })?.code;
  return new DomainError('UPSTREAM_UNAVAILABLE', `upstream ${server} is unreachable: ${message}`, {
    server,
    ...(typeof code === 'string' ? { cause: code } : {}),
  });
}

/** The SDK's own request timeout carries `{ timeout }` as data; an upstream's -32001 error does not. */
function isSdkTimeout(data: unknown): boolean {
  return typeof data === 'object' && data !== null && 'timeout' in data;
}
