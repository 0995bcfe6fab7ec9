import { describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from './sse-parser.js';

const parse = (chunks: string[]): SseEvent[] => {
  const events: SseEvent[] = [];
  const sut = new SseParser((e) => events.push(e));
  for (const chunk of chunks) sut.push(chunk);
  sut.end();
  return events;
};

describe('SseParser', () => {
  it('parses events split anywhere across chunks', () => {
    const stream = 'event: message\nid: 1\ndata: {"a":1}\n\n: comment\ndata: {"b":2}\n\n';
    const whole = parse([stream]);
    expect(whole).toEqual([
      { event: 'message', data: '{"a":1}', id: '1' },
      { event: 'message', data: '{"b":2}', id: '1' },
    ]);
    for (let cut = 1; cut < stream.length; cut++) expect(parse([stream.slice(0, cut), stream.slice(cut)])).toEqual(whole);
  });

  it('joins multi-line data and accepts CRLF line ends', () => {
    expect(parse(['data: a\r\ndata: b\r', '\n\r\n'])).toEqual([{ event: 'message', data: 'a\nb' }]);
  });

  it('skips events without data', () => {
    expect(parse(['event: ping\n\n', 'data:x\n\n'])).toEqual([{ event: 'message', data: 'x' }]);
  });
});
