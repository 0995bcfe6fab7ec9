import { describe, expect, it } from 'vitest';
import { JsonRpcError } from './jsonrpc.js';
import { callerOf, InputRequiredBridge, INVALID_REQUEST_STATE } from './input-required.js';
import { RequestStateSealer } from './request-state.js';
import { MASTER_PRINCIPAL } from '#libs/contracts';

const bridge = new InputRequiredBridge(new RequestStateSealer('secret'));
const input = { park_id: 'p-1', requests: { 'sb-c1-1': { method: 'sampling/createMessage', params: { maxTokens: 5 } } } };

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
    expect(bridge.continuation({ name: 't' }, 's-1', 'a')).toEqual({ kind: 'call', params: { name: 't' } });
  });

  it('a parked call comes back as input_required, and its retry resumes it on the instance that holds it', () => {
    const result = bridge.parked(input, 'c1', 's-1', 'a');
    expect(result).toMatchObject({ resultType: 'input_required', inputRequests: input.requests });
    const retry = { name: 't', inputResponses: { 'sb-c1-1': { role: 'assistant' } }, requestState: result.requestState };
    expect(bridge.continuation(retry, 's-1', 'a')).toEqual({ kind: 'resume', instance: 'c1', park_id: 'p-1', responses: retry.inputResponses });
  });

  it("refuses another caller's, another server's, or an altered requestState with -32602", () => {
    const { requestState } = bridge.parked(input, 'c1', 's-1', 'a') as { requestState: string };
    for (const [state, server, caller] of [
      [requestState, 's-1', 'b'],
      [requestState, 's-2', 'a'],
      [`${requestState}x`, 's-1', 'a'],
      ['whatever-the-upstream-said', 's-1', 'a'],
    ] as const) {
      const error = refusal(() => bridge.continuation({ requestState: state }, server, caller));
      expect(error).toBeInstanceOf(JsonRpcError);
      expect(error).toMatchObject({ code: -32602, message: INVALID_REQUEST_STATE });
    }
  });

  it("wraps a modern upstream's own requestState and restores it on the retry", () => {
    const result = bridge.upstreamResult({ resultType: 'input_required', inputRequests: {}, requestState: 'upstream-state' }, 's-1', 'a');
    expect(result.requestState).not.toBe('upstream-state');
    expect(bridge.continuation({ name: 't', requestState: result.requestState }, 's-1', 'a')).toEqual({ kind: 'call', params: { name: 't', requestState: 'upstream-state' } });
    expect(bridge.upstreamResult({ content: [] }, 's-1', 'a')).toEqual({ content: [] });
  });

  it('binds the master key too', () => {
    expect(callerOf(MASTER_PRINCIPAL)).toMatch(/^master:/);
  });
});
