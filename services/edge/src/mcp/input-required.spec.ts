import { describe, expect, it } from 'vitest';
import { MASTER_PRINCIPAL } from '#libs/contracts';
import { JsonRpcError } from './jsonrpc.js';
import { callerOf, InputRequiredBridge, INVALID_REQUEST_STATE, type RequestIdentity } from './input-required.js';
import { RequestStateSealer } from './request-state.js';

const bridge = new InputRequiredBridge(new RequestStateSealer('secret'));
const input = { park_id: 'p-1', requests: { 'sb-c1-1': { method: 'sampling/createMessage', params: { maxTokens: 5 } } } };
const call = (params: Record<string, unknown>, overrides: Partial<RequestIdentity> = {}): RequestIdentity => ({
  caller: 'a',
  serverId: 's-1',
  method: 'tools/call',
  params: { name: 'ask', arguments: { q: 1 }, ...params },
  ...overrides,
});

function refusal(fn: () => unknown): JsonRpcError {
  try {
    fn();
  } catch (error) {
    return error as JsonRpcError;
  }
  throw new Error('not refused');
}

describe('InputRequiredBridge', () => {
  it('a call without requestState is a call', () => {
    expect(bridge.continuation(call({}))).toEqual({ kind: 'call', params: { name: 'ask', arguments: { q: 1 } } });
  });

  it('a parked call comes back as input_required, and its retry resumes it on the instance that holds it', () => {
    const result = bridge.parked(input, 'c1', call({}));
    expect(result).toMatchObject({ resultType: 'input_required', inputRequests: input.requests });
    const responses = { 'sb-c1-1': { role: 'assistant' } };
    expect(bridge.continuation(call({ inputResponses: responses, requestState: result.requestState }))).toEqual({ kind: 'resume', instance: 'c1', park_id: 'p-1', responses });
  });

  it("refuses another caller's, another server's, another request's or an altered requestState with -32602", () => {
    const { requestState } = bridge.parked(input, 'c1', call({})) as { requestState: string };
    for (const retry of [
      call({ requestState }, { caller: 'b' }),
      call({ requestState }, { serverId: 's-2' }),
      call({ requestState }, { method: 'prompts/get' }),
      call({ requestState, name: 'echo' }),
      call({ requestState, arguments: { q: 2 } }),
      call({ requestState: `${requestState}x` }),
      call({ requestState: 'whatever-the-upstream-said' }),
    ]) {
      const error = refusal(() => bridge.continuation(retry));
      expect(error).toBeInstanceOf(JsonRpcError);
      expect(error).toMatchObject({ code: -32602, message: INVALID_REQUEST_STATE });
    }
  });

  it("wraps a modern upstream's own requestState and restores it on the retry", () => {
    const result = bridge.upstreamResult({ resultType: 'input_required', inputRequests: {}, requestState: 'upstream-state' }, call({}));
    expect(result.requestState).not.toBe('upstream-state');
    expect(bridge.continuation(call({ requestState: result.requestState }))).toEqual({ kind: 'call', params: { name: 'ask', arguments: { q: 1 }, requestState: 'upstream-state' } });
    expect(bridge.upstreamResult({ content: [] }, call({}))).toEqual({ content: [] });
  });

  it('binds the master key too', () => {
    expect(callerOf(MASTER_PRINCIPAL)).toMatch(/^master:/);
  });
});
