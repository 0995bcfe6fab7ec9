import { describe, expect, it } from 'vitest';
import { aggregateToolNames, functionSafeNames, MAX_TOOL_NAME_LENGTH } from './naming.js';

describe('aggregateToolNames', () => {
  it('prefixes tools with their server', () => {
    expect(aggregateToolNames([{ server: 'github', tool: 'create_issue' }])).toEqual(['github-create_issue']);
  });

  it('cuts long names to 64 characters with a hash of their origin, the same whatever the order', () => {
    const long = { server: 'server', tool: 'x'.repeat(80) };
    const other = { server: 'other', tool: 'y' };
    const [a] = aggregateToolNames([long, other]);
    const [, b] = aggregateToolNames([other, long]);
    expect(a).toHaveLength(MAX_TOOL_NAME_LENGTH);
    expect(a).toBe(b);
    expect(a).toMatch(/^server-x+_[0-9a-f]{8}$/);
  });

  it('makes names unique when sanitizing makes them collide', () => {
    const names = aggregateToolNames([
      { server: 's', tool: 'a.b' },
      { server: 's', tool: 'a b' },
      { server: 's', tool: 'c' },
    ]);
    expect(new Set(names).size).toBe(3);
    expect(names[2]).toBe('s-c');
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });
});

describe('functionSafeNames', () => {
  it('keeps valid unique names and makes every other one valid, unique and stable', () => {
    const entries = [
      { name: 'get-sum', origin: 'a\u0000get-sum' },
      { name: 'echo', origin: 'a\u0000echo' },
      { name: 'echo', origin: 'b\u0000echo' },
      { name: 'files.read', origin: 'c\u0000files.read' },
      { name: '', origin: 'd\u0000' },
    ];
    const names = functionSafeNames(entries);
    expect(names[0]).toBe('get-sum');
    expect(names[3]).toBe('files_read');
    expect(new Set(names).size).toBe(entries.length);
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(functionSafeNames([...entries].reverse()).reverse()).toEqual(names);
  });
});
