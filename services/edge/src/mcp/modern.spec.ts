import { describe, expect, it } from 'vitest';
import { errorJson, resultJson, type JsonRpcRequest } from './jsonrpc.js';
import { admitModernRequest, assertParamHeaders, CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, ModernRejection, modernReplyStatus, paramHeaders, paramHeaderValues, PROTOCOL_VERSION_META_KEY } from './modern.js';

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

  it('reads Mcp-Name as written or in strict =?base64?…?= form', () => {
    const b64 = (text: string) => `=?base64?${Buffer.from(text).toString('base64')}?=`;
    expect(() => admitModernRequest(modernCall(envelope), { ...headers, 'mcp-name': b64('echo') })).not.toThrow();
    expect(() => admitModernRequest(modernCall(envelope), { ...headers, 'mcp-name': '=?base64?ZWNobw?=' })).toThrow(expect.objectContaining({ code: -32020 }));
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

describe('custom headers from tool parameters (SEP-2243)', () => {
  const schema = {
    type: 'object',
    properties: {
      region: { type: 'string', 'x-mcp-header': 'Region' },
      count: { type: 'integer', 'x-mcp-header': 'Count' },
      options: { type: 'object', properties: { tenant: { type: 'string', 'x-mcp-header': 'Tenant' } } },
      note: { type: 'string' },
    },
  };
  const check = (args: Record<string, unknown>, headers: Record<string, string>) => () => assertParamHeaders(paramHeaders(schema), args, headers);
  const b64 = (text: string) => `=?base64?${Buffer.from(text).toString('base64')}?=`;

  it('finds the declarations, nested ones through properties', () => {
    expect(paramHeaders(schema).map((p) => [p.path.join('.'), p.header])).toEqual([
      ['region', 'mcp-param-region'],
      ['count', 'mcp-param-count'],
      ['options.tenant', 'mcp-param-tenant'],
    ]);
  });

  it.each([
    ['a plain value', { region: 'Hello' }, { 'mcp-param-region': 'Hello' }],
    ['a Base64 value', { region: 'Hello' }, { 'mcp-param-region': b64('Hello') }],
    ['non-ASCII text in Base64', { region: 'Zürich' }, { 'mcp-param-region': b64('Zürich') }],
    ['a value without the whole wrapper, literally', { region: '=?base64?SGVsbG8=' }, { 'mcp-param-region': '=?base64?SGVsbG8=' }],
    ['whitespace around the value', { region: 'Hello' }, { 'mcp-param-region': '  Hello ' }],
    ['a number compared as a number', { count: 42 }, { 'mcp-param-count': '42.0' }],
    ['a nested argument', { options: { tenant: 't1' } }, { 'mcp-param-tenant': 't1' }],
    ['an argument not sent (its header is not expected)', { note: 'x' }, {}],
    ['a null argument', { region: null }, {}],
  ])('accepts %s', (_label, args, headers) => {
    expect(check(args, headers)).not.toThrow();
  });

  it.each([
    ['a missing header', { region: 'Hello' }, {}],
    ['a different value', { region: 'Hello' }, { 'mcp-param-region': 'World' }],
    ['Base64 without its padding', { region: 'Hello' }, { 'mcp-param-region': '=?base64?SGVsbG8?=' }],
    ['Base64 with characters outside its alphabet', { region: 'Hello' }, { 'mcp-param-region': '=?base64?SGVs!!!bG8=?=' }],
    ['Base64 of bytes that are not UTF-8', { region: 'Hello' }, { 'mcp-param-region': `=?base64?${Buffer.from([0xff, 0xfe]).toString('base64')}?=` }],
    ['a different number', { count: 42 }, { 'mcp-param-count': '43' }],
  ])('refuses %s with 400 and -32020', (_label, args, headers) => {
    expect(check(args, headers)).toThrow(expect.objectContaining({ status: 400, code: -32020 }));
  });
});

describe('modernReplyStatus', () => {
  it.each([
    [resultJson(1, '{"content":[]}'), 200],
    [errorJson(1, -32021, 'needs sampling', { requiredCapabilities: { sampling: {} } }), 400],
    [errorJson('a', -32602, 'Invalid params'), 200],
    [errorJson(2, -32020, 'an upstream said so'), 200],
    // a result whose text mentions an error code is still a result
    [resultJson(3, '{"content":[{"type":"text","text":"\\"error\\":{\\"code\\":-32021"}]}'), 200],
    [resultJson(4, '{"structuredContent":{"error":{"code":-32021}},"content":[]}'), 200],
    [errorJson('x\\"y', -32021, 'a quoted id'), 400],
  ])('%s: %i', (json, status) => {
    expect(modernReplyStatus(json)).toBe(status);
  });
});

describe('paramHeaderValues', () => {
  const schema = { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' }, n: { type: 'integer', 'x-mcp-header': 'N' }, note: { type: 'string' } } };
  it('mirrors the declared arguments into headers, Base64 where the value is not plain ASCII', () => {
    expect(paramHeaderValues(paramHeaders(schema), { region: 'eu-west', n: 3, note: 'x' })).toEqual({ 'mcp-param-region': 'eu-west', 'mcp-param-n': '3' });
    expect(paramHeaderValues(paramHeaders(schema), { region: 'Zürich' })).toEqual({ 'mcp-param-region': `=?base64?${Buffer.from('Zürich').toString('base64')}?=` });
    expect(paramHeaderValues(paramHeaders(schema), {})).toEqual({});
  });
  it('makes what assertParamHeaders accepts', () => {
    const args = { region: ' spaced ', n: 7 };
    expect(() => assertParamHeaders(paramHeaders(schema), args, paramHeaderValues(paramHeaders(schema), args))).not.toThrow();
  });
});
