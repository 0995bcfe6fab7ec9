/**
 * JSON-RPC 2.0 as MCP uses it: the message shapes of the v2 SDK's `@modelcontextprotocol/core` (both protocol
 * eras; type imports only, nothing loaded at run time), the error codes of the SDK, and how the edge reads and
 * writes them.
 */
import type { JSONRPCResponseSchema, RequestIdSchema } from '@modelcontextprotocol/core';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { JsonText, type Json } from './json-text.js';

export type JsonRpcId = z.infer<typeof RequestIdSchema>;

/** The SDK's JSONRPCRequest, with params read as a plain record (the edge routes on a few fields). */
export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}
export type JsonRpcNotification = Omit<JsonRpcRequest, 'id'>;
export type JsonRpcResponse = z.infer<typeof JSONRPCResponseSchema>;

export const JsonRpcErrorCode = {
  PARSE_ERROR: ErrorCode.ParseError,
  INVALID_REQUEST: ErrorCode.InvalidRequest,
  METHOD_NOT_FOUND: ErrorCode.MethodNotFound,
  INVALID_PARAMS: ErrorCode.InvalidParams,
  INTERNAL_ERROR: ErrorCode.InternalError,
  /** Switchboard: the key is over its rpm_limit or max_parallel_requests (data.retry_after_seconds). */
  RATE_LIMITED: -32029,
} as const;

export class JsonRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

export type ClassifiedMessage =
  | { kind: 'request'; message: JsonRpcRequest }
  | { kind: 'notification'; message: JsonRpcNotification }
  | { kind: 'response'; message: JsonRpcResponse }
  | { kind: 'invalid'; id: JsonRpcId | null; reason: string };

export function classify(value: unknown): ClassifiedMessage {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { kind: 'invalid', id: null, reason: 'expected a JSON-RPC object' };
  const m = value as Record<string, unknown>;
  const id = typeof m.id === 'string' || typeof m.id === 'number' ? m.id : null;
  if (m.jsonrpc !== '2.0') return { kind: 'invalid', id, reason: 'jsonrpc must be "2.0"' };
  if (m.params !== undefined && (typeof m.params !== 'object' || m.params === null || Array.isArray(m.params))) {
    return { kind: 'invalid', id, reason: 'params must be an object' };
  }
  if (typeof m.method === 'string') {
    if (m.id === undefined) return { kind: 'notification', message: m as unknown as JsonRpcNotification };
    if (id === null) return { kind: 'invalid', id: null, reason: 'id must be a string or a number' };
    return { kind: 'request', message: m as unknown as JsonRpcRequest };
  }
  if (id !== null && ('result' in m || 'error' in m)) return { kind: 'response', message: m as unknown as JsonRpcResponse };
  return { kind: 'invalid', id, reason: 'expected a request, a notification or a response' };
}

/**
 * Serialized responses: prepared results are already JSON text, so they are spliced in rather than re-encoded
 * (prepared bytes stay bytes: the reply is then a JsonText of head, those bytes and tail).
 */
export function resultJson(id: JsonRpcId, resultText: string): string;
export function resultJson(id: JsonRpcId, resultText: Json): Json;
export function resultJson(id: JsonRpcId, resultText: Json): Json {
  const head = `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":`;
  return typeof resultText === 'string' ? `${head}${resultText}}` : JsonText.concat([head, resultText, '}']);
}

export function errorJson(id: JsonRpcId | null, code: number, message: string, data?: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: { code, message, ...(data === undefined ? {} : { data }) } });
}

export function notificationJson(method: string, params?: Record<string, unknown>): string {
  return JSON.stringify({ jsonrpc: '2.0', method, ...(params ? { params } : {}) });
}
