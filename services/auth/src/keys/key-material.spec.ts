import { describe, expect, it } from 'vitest';
import { Duration, durationToSeconds } from '#libs/contracts';
import { candidateHashes, expiresFrom, generateKey, hashKey, isMasterKey, isTokenHash, keyPreview } from './key-material.js';

describe('key material', () => {
  it('generates sk- keys with 43 url-safe random characters, never twice the same', () => {
    const keys = new Set(Array.from({ length: 200 }, generateKey));
    expect(keys.size).toBe(200);
    for (const key of keys) expect(key).toMatch(/^sk-[A-Za-z0-9_-]{43}$/);
  });

  it('stores keys as sha256 hex', () => {
    expect(hashKey('sk-abc')).toMatch(/^[0-9a-f]{64}$/);
    expect(hashKey('sk-abc')).not.toBe(hashKey('sk-abd'));
    expect(isTokenHash(hashKey('sk-abc'))).toBe(true);
  });

  it('previews a key as sk-...last4', () => {
    expect(keyPreview('sk-1234567890abcd')).toBe('sk-...abcd');
  });

  it('reads a reference as a key, a token hash, or neither (an alias)', () => {
    const key = generateKey();
    expect(candidateHashes(key)).toEqual([hashKey(key)]);
    expect(candidateHashes(hashKey(key))).toEqual([hashKey(key)]);
    expect(candidateHashes('my-alias')).toEqual([]);
  });

  it('compares the master key in constant time and refuses when none is set', () => {
    expect(isMasterKey('sk-master', 'sk-master')).toBe(true);
    expect(isMasterKey('sk-maste', 'sk-master')).toBe(false);
    expect(isMasterKey('sk-master', undefined)).toBe(false);
  });
});

describe('durations (LiteLLM)', () => {
  it.each([
    ['30s', 30],
    ['10m', 600],
    ['1h', 3600],
    ['30d', 30 * 86_400],
    ['2w', 14 * 86_400],
    ['1mo', 30 * 86_400],
    ['1y', 365 * 86_400],
    ['0s', 0],
  ])('%s = %i seconds', (text, seconds) => {
    expect(Duration.safeParse(text).success).toBe(true);
    expect(durationToSeconds(text)).toBe(seconds);
  });

  it.each(['30', 'd', '1.5h', '-1d', '1 h', '10min', ''])('refuses %j', (text) => {
    expect(Duration.safeParse(text).success).toBe(false);
    expect(() => durationToSeconds(text)).toThrow();
  });

  it('counts expiry from now; no duration = never', () => {
    expect(expiresFrom('1h', 1_000)).toEqual(new Date(1_000 + 3_600_000));
    expect(expiresFrom(null, 1_000)).toBeNull();
    expect(expiresFrom(undefined, 1_000)).toBeNull();
  });
});
