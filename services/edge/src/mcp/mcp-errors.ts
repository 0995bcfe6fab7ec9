import { Logger } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { DomainError } from '#libs/contracts';
import { HttpProblem, HTTP_STATUS_BY_CODE, WWW_AUTHENTICATE } from '../http/http-problem.js';
import { errorJson, JsonRpcErrorCode } from './jsonrpc.js';

const log = new Logger('McpErrors');

/** JSON-RPC code for a DomainError answered at the HTTP level of an MCP endpoint. */
function jsonRpcCodeFor(status: number): number {
  if (status === 401 || status === 404) return -32001;
  if (status === 429) return JsonRpcErrorCode.RATE_LIMITED;
  if (status >= 500) return JsonRpcErrorCode.INTERNAL_ERROR;
  return JsonRpcErrorCode.INVALID_REQUEST;
}

/** Writes anything thrown before a JSON-RPC reply existed as a JSON-RPC error with the fitting HTTP status. */
export function writeMcpError(res: ServerResponse, error: unknown, id: string | number | null = null): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (error instanceof HttpProblem) {
    res.writeHead(error.status, { 'content-type': 'application/json', ...error.headers });
    res.end(errorJson(id, error.jsonRpcCode ?? JsonRpcErrorCode.INVALID_REQUEST, error.message));
    return;
  }
  if (error instanceof DomainError) {
    const status = HTTP_STATUS_BY_CODE[error.code];
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (status === 401) headers['www-authenticate'] = WWW_AUTHENTICATE;
    const retryAfter = error.details?.retry_after_seconds;
    if (typeof retryAfter === 'number') headers['retry-after'] = String(Math.ceil(retryAfter));
    res.writeHead(status, headers);
    res.end(errorJson(id, jsonRpcCodeFor(status), error.message, error.details));
    return;
  }
  log.error(`MCP request failed: ${(error as Error).message}`);
  res.writeHead(500, { 'content-type': 'application/json' });
  res.end(errorJson(null, JsonRpcErrorCode.INTERNAL_ERROR, 'Internal error'));
}
