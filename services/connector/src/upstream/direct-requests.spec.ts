import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Cancellation } from './cancellation.js';
import { DirectRequests } from './direct-requests.js';

/** A transport whose sent messages are kept, with the callbacks a connected SDK client would have set. */
function connectedTransport() {
  const sent: JSONRPCMessage[] = [];
  const sdkMessages: JSONRPCMessage[] = [];
  const sdkClosed = vi.fn();
  let failSends: Error | undefined;
  const transport: Transport = {
    start: async () => undefined,
    close: async () => transport.onclose?.(),
    send: async (message) => {
      if (failSends) throw failSends;
      sent.push(message);
    },
    onmessage: (message) => void sdkMessages.push(message),
    onclose: sdkClosed,
  };
  return { transport, sent, sdkMessages, sdkClosed, failSendsWith: (error: Error) => (failSends = error) };
}

const answer = (transport: Transport, message: Record<string, unknown>) => transport.onmessage!({ jsonrpc: '2.0', ...message } as JSONRPCMessage);

afterEach(() => vi.useRealTimers());

describe('DirectRequests', () => {
  it('sends a request with an id of its own and resolves with the result as it came', async () => {
    const { transport, sent } = connectedTransport();
    const direct = new DirectRequests(transport);
    const pending = direct.request('tools/call', { name: 'echo', arguments: { message: 'hi' } }, { timeout: 5_000 });
    await Promise.resolve();
    expect(sent).toEqual([{ jsonrpc: '2.0', id: 'sb-1', method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } }]);
    const result = { content: [{ type: 'text', text: 'hi' }], extra: { kept: true } };
    answer(transport, { id: 'sb-1', result });
    expect(await pending).toBe(result);
    expect(direct.inFlight).toBe(0);
  });

  it("leaves every other message to the SDK's client: its own answers, requests and notifications", async () => {
    const { transport, sdkMessages } = connectedTransport();
    new DirectRequests(transport);
    answer(transport, { id: 1, result: {} });
    answer(transport, { id: 'other-1', result: {} });
    answer(transport, { id: 7, method: 'sampling/createMessage', params: {} });
    answer(transport, { method: 'notifications/progress', params: { progressToken: 'sb-1', progress: 1 } });
    expect(sdkMessages.map((m) => ('id' in m ? m.id : (m as { method: string }).method))).toEqual([1, 'other-1', 7, 'notifications/progress']);
  });

  it("rejects with the upstream's JSON-RPC error as the SDK's McpError, code and data kept", async () => {
    const { transport } = connectedTransport();
    const direct = new DirectRequests(transport);
    const pending = direct.request('tools/call', { name: 'x' }, { timeout: 5_000 });
    answer(transport, { id: 'sb-1', error: { code: ErrorCode.InvalidParams, message: 'bad arguments', data: { field: 'message' } } });
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect(error).toMatchObject({ code: ErrorCode.InvalidParams, data: { field: 'message' } });
    expect((error as Error).message).toContain('bad arguments');
  });

  it('on a timeout tells the upstream and rejects as the SDK does ({ timeout } as data); a late answer goes nowhere', async () => {
    vi.useFakeTimers();
    const { transport, sent, sdkMessages } = connectedTransport();
    const direct = new DirectRequests(transport);
    const pending = direct.request('tools/call', { name: 'slow' }, { timeout: 250 });
    const outcome = pending.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(250);
    expect(await outcome).toMatchObject({ code: ErrorCode.RequestTimeout, data: { timeout: 250 } });
    expect(sent.at(-1)).toMatchObject({ method: 'notifications/cancelled', params: { requestId: 'sb-1' } });
    answer(transport, { id: 'sb-1', result: {} });
    expect(sdkMessages).toEqual([]);
  });

  it('when cancelled tells the upstream and rejects as the SDK does (a RequestTimeout error with the reason)', async () => {
    const { transport, sent } = connectedTransport();
    const direct = new DirectRequests(transport);
    const cancellation = new Cancellation();
    const pending = direct.request('tools/call', { name: 'long' }, { timeout: 5_000, cancellation });
    cancellation.abort('cancelled by the client');
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect(error).toMatchObject({ code: ErrorCode.RequestTimeout, message: expect.stringContaining('cancelled by the client') });
    expect(sent.at(-1)).toMatchObject({ method: 'notifications/cancelled', params: { requestId: 'sb-1', reason: 'cancelled by the client' } });
    await expect(direct.request('tools/call', {}, { timeout: 5_000, cancellation })).rejects.toMatchObject({ code: ErrorCode.RequestTimeout });
    expect(direct.inFlight).toBe(0);
  });

  it('rejects what is in flight when the transport closes (then the SDK hears of it), and what is asked after', async () => {
    const { transport, sdkClosed } = connectedTransport();
    const direct = new DirectRequests(transport);
    const pending = direct.request('tools/call', {}, { timeout: 5_000 });
    await transport.close();
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.ConnectionClosed });
    expect(sdkClosed).toHaveBeenCalledOnce();
    await expect(direct.request('tools/call', {}, { timeout: 5_000 })).rejects.toMatchObject({ code: ErrorCode.ConnectionClosed });
  });

  it('rejects with what the transport threw when the request could not be sent', async () => {
    const { transport, failSendsWith } = connectedTransport();
    const direct = new DirectRequests(transport);
    const refused = new Error('HTTP 503');
    failSendsWith(refused);
    await expect(direct.request('tools/call', {}, { timeout: 5_000 })).rejects.toBe(refused);
    expect(direct.inFlight).toBe(0);
  });
});
