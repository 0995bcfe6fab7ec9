import { describe, expect, it } from 'vitest';
import { constantTimeEquals, extractApiKey, hashKey } from './credentials.js';

describe('extractApiKey', () => {
  it('reads x-litellm-api-key first, then Authorization, with or without Bearer', () => {
    expect(extractApiKey({ 'x-litellm-api-key': 'Bearer sk-a', authorization: 'Bearer sk-b' })).toBe('sk-a');
    expect(extractApiKey({ authorization: 'Bearer sk-b' })).toBe('sk-b');
    expect(extractApiKey({ authorization: 'bearer   sk-c ' })).toBe('sk-c');
    expect(extractApiKey({ 'x-litellm-api-key': 'sk-d' })).toBe('sk-d');
    expect(extractApiKey({})).toBeUndefined();
    expect(extractApiKey({ authorization: 'Bearer ' })).toBeUndefined();
  });

  it('hashes keys with sha256 and compares in constant time', () => {
    expect(hashKey('sk-1234')).toMatch(/^[0-9a-f]{64}$/);
    expect(constantTimeEquals('sk-1234', 'sk-1234')).toBe(true);
    expect(constantTimeEquals('sk-1234', 'sk-12345')).toBe(false);
  });
});
