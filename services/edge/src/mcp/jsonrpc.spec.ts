import { describe, expect, it } from 'vitest';
import { classify, errorJson, resultJson } from './jsonrpc.js';

describe('classify', () => {
  it.each([
    [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, 'request'],
    [{ jsonrpc: '2.0', id: 'a', method: 'x', params: {} }, 'request'],
    [{ jsonrpc: '2.0', method: 'notifications/initialized' }, 'notification'],
    [{ jsonrpc: '2.0', id: 3, result: {} }, 'response'],
    [{ jsonrpc: '2.0', id: 3, error: { code: 1, message: 'x' } }, 'response'],
    [{ jsonrpc: '1.0', id: 1, method: 'x' }, 'invalid'],
    [{ jsonrpc: '2.0', id: 1, method: 'x', params: [1] }, 'invalid'],
    [{ jsonrpc: '2.0', id: null, method: 'x' }, 'invalid'],
    [{ jsonrpc: '2.0', id: {}, method: 'x' }, 'invalid'],
    [[], 'invalid'],
    ['text', 'invalid'],
    [null, 'invalid'],
  ])('%j is a %s', (message, kind) => {
    expect(classify(message).kind).toBe(kind);
  });
});

describe('serialization', () => {
  it('splices prepared result text into a response', () => {
    expect(JSON.parse(resultJson('x"1', '{"tools":[]}'))).toEqual({ jsonrpc: '2.0', id: 'x"1', result: { tools: [] } });
  });
  it('writes errors with optional data', () => {
    expect(JSON.parse(errorJson(null, -32700, 'Parse error'))).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
    expect(JSON.parse(errorJson(1, -32029, 'slow down', { retry_after_seconds: 3 })).error.data).toEqual({ retry_after_seconds: 3 });
  });
});
