import { describe, expect, it } from 'vitest';
import { lostReplyFrame, parsePostStreamId, postStreamIdPrefix } from './post-stream.js';

describe('POST stream event ids', () => {
  it('name the request they belong to, whatever its id', () => {
    for (const id of [1, 0, -7, 'abc', 'sb-1f-2', 'with.dots and spaces', '\u00e9\u4e2d']) {
      const prefix = postStreamIdPrefix('0a1b2c', id)!;
      expect(parsePostStreamId(`${prefix}3`)).toEqual({ instance: '0a1b2c', requestId: id });
    }
  });

  it('are told apart from GET stream ids and garbage', () => {
    for (const id of [undefined, '', '0a1b2c-4', '17', 'p.0a1b2c..1', 'p.zz.MQ.1', 'p.0a1b2c.MQ', `p.0a1b2c.${'A'.repeat(4000)}.1`, 'p.0a1b2c.e30.1' /* {} */]) {
      expect(parsePostStreamId(id)).toBeUndefined();
    }
  });

  it('the resuming client gets a JSON-RPC error for its request', () => {
    const frame = lostReplyFrame('req-9');
    const data = JSON.parse(frame.split('\n').find((l) => l.startsWith('data: '))!.slice(6));
    expect(data).toMatchObject({ jsonrpc: '2.0', id: 'req-9', error: { code: -32603, data: { reason: 'stream_lost' } } });
  });
});
