import { describe, expect, it } from 'vitest';
import type { JsonRpcRequest } from './jsonrpc.js';
import { admitModernRequest, CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, ModernRejection, PROTOCOL_VERSION_META_KEY } from './modern.js';

const MODERN = '2026-07-28';

function modernCall(meta: Record<string, unknown>, params: Record<string, unknown> = { name: 'echo', arguments: {} }): JsonRpcRequest {
  return { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { ...params, _meta: meta } };
}
const headers = { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'echo' };
const envelope = { [PROTOCOL_VERSION_META_KEY]: MODERN, [CLIENT_CAPABILITIES_META_KEY]: { sampling: {} }, [CLIENT_INFO_META_KEY]: { name: 'c', version: '1' } };

describe('admitModernRequest', () => {
  it('returns the envelope and lifts it out of the request, so that an upstream never sees the client\'s claim', () => {
    const request = modernCall({ ...envelope, progressToken: 'p1', 'io.modelcontextprotocol/logLevel': 'info' });
    expect(admitModernRequest(request, headers)).toEqual({ protocolVersion: MODERN, clientCapabilities: { sampling: {} }, clientInfo: { name: 'c', version: '1' } });
    // what is left is the request's own: its progress token, its log level
    expect(request.params).toEqual({ name: 'echo', arguments: {}, _meta: { progressToken: 'p1', 'io.modelcontextprotocol/logLevel': 'info' } });
  });

  it('leaves no empty _meta behind', () => {
    const request = modernCall(envelope);
    admitModernRequest(request, headers);
    expect(request.params).toEqual({ name: 'echo', arguments: {} });
  });

  it('lifts nothing from a request it refuses', () => {
    const request = modernCall({ ...envelope, [PROTOCOL_VERSION_META_KEY]: '2099-01-01' });
    expect(() => admitModernRequest(request, { ...headers, 'mcp-protocol-version': '2099-01-01' })).toThrow(ModernRejection);
    expect((request.params!._meta as Record<string, unknown>)[PROTOCOL_VERSION_META_KEY]).toBe('2099-01-01');
  });
});

describe('the order of the version rungs', () => {
  const discover = (version: unknown): JsonRpcRequest => ({
    jsonrpc: '2.0',
    id: 1,
    method: 'server/discover',
    params: { _meta: { [PROTOCOL_VERSION_META_KEY]: version, [CLIENT_CAPABILITIES_META_KEY]: {} } },
  });
  const rejection = (request: JsonRpcRequest, header: string | undefined): { status: number; code: number; data?: unknown } => {
    try {
      admitModernRequest(request, { 'mcp-method': 'server/discover', ...(header === undefined ? {} : { 'mcp-protocol-version': header }) });
    } catch (error) {
      const { status, code, data } = error as ModernRejection;
      return { status, code, data };
    }
    throw new Error('admitted');
  };

  it.each([
    ['a header and body naming the same unknown revision', '2099-01-01', '2099-01-01', -32022],
    ['an unknown header, whatever the body says', MODERN, '2099-01-01', -32022],
    ['a header we speak that disagrees with the body', '2099-01-01', MODERN, -32020],
    ['a 2025 header on a 2026-07-28 body', MODERN, '2025-11-25', -32020],
    ['no header, an unknown body', '2099-01-01', undefined, -32022],
    ['no header, a body we speak', MODERN, undefined, -32020],
  ])('%s: HTTP 400', (_label, body, header, code) => {
    expect(rejection(discover(body), header)).toMatchObject({ status: 400, code });
  });

  it('names the supported revisions and echoes the requested one', () => {
    expect(rejection(discover('2099-01-01'), '2099-01-01').data).toEqual({ supported: [MODERN], requested: '2099-01-01' });
  });
});
