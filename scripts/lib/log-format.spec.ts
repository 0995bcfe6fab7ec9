import { describe, expect, it } from 'vitest';
import { formatLine } from './log-format.mjs';

describe('formatLine', () => {
  it('turns a JSON log line into time, service, level and message', () => {
    const line = JSON.stringify({ time: '2025-01-02T03:04:05.000Z', level: 'warn', service: 'edge', msg: 'hello', context: 'Main' });
    const sut = formatLine('edge', line);
    expect(sut).toMatch(/^\d\d:\d\d:\d\d edge\s+warn\s+\[Main\] hello$/);
  });

  it('keeps lines that are not JSON as the message', () => {
    expect(formatLine('connector', 'Error: boom', { stream: 'stderr' })).toMatch(/connector\s+warn\s+Error: boom$/);
    expect(formatLine('auth', '{not json')).toMatch(/auth\s+info\s+\{not json$/);
  });

  it('colours only when asked', () => {
    const line = JSON.stringify({ level: 'error', msg: 'x' });
    expect(formatLine('registry', line)).not.toContain('\x1b[');
    expect(formatLine('registry', line, { colour: true })).toContain('\x1b[35m');
  });
});
