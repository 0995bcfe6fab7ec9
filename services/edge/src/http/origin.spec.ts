import { describe, expect, it } from 'vitest';
import { OriginPolicy } from './origin.js';

describe('OriginPolicy', () => {
  const sut = new OriginPolicy(['https://app.example.com']);

  it('lets requests without Origin, loopback origins and listed origins through', () => {
    for (const origin of [undefined, 'http://localhost:6274', 'http://127.0.0.1', 'http://[::1]:3000', 'https://app.example.com']) {
      expect(() => sut.check(origin)).not.toThrow();
    }
  });

  it('answers 403 to any other origin, including look-alikes', () => {
    for (const origin of ['http://evil.example', 'https://app.example.com.evil.io', 'http://localhost.evil.io', 'null']) {
      expect(() => sut.check(origin)).toThrow(expect.objectContaining({ status: 403 }));
    }
  });
});
