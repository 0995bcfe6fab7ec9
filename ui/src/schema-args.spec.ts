import { describe, expect, it } from 'vitest';
import { argumentsOf, kindOf } from './schema-args';

const schema = {
  type: 'object',
  properties: {
    message: { type: 'string' },
    a: { type: 'number' },
    n: { type: 'integer' },
    flag: { type: 'boolean' },
    mode: { type: 'string', enum: ['short', 'long'] },
    level: { enum: [1, 2] },
    options: { type: 'object' },
    note: { type: ['string', 'null'] },
  },
  required: ['message', 'a'],
};

describe('a tool form from its input schema', () => {
  it('gives each property an input by its type (enums as choices, anything else as JSON)', () => {
    const kinds = Object.fromEntries(Object.entries(schema.properties).map(([name, s]) => [name, kindOf(s)]));
    expect(kinds).toEqual({ message: 'string', a: 'number', n: 'integer', flag: 'boolean', mode: 'enum', level: 'enum', options: 'json', note: 'string' });
  });

  it('types the values, leaves out empty optional ones and keeps empty required ones', () => {
    expect(argumentsOf(schema, { message: '', a: '2.5', n: '', flag: 'true', mode: 'long', level: '2', options: '{"x":1}', note: '' })).toEqual({
      message: '',
      a: 2.5,
      flag: true,
      mode: 'long',
      level: 2,
      options: { x: 1 },
    });
  });

  it('sends what is not a number or not JSON as typed, for the tool to answer', () => {
    expect(argumentsOf(schema, { message: 'hi', a: 'abc', options: '{oops' })).toEqual({ message: 'hi', a: 'abc', options: '{oops' });
  });
});
