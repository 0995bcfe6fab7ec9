import { describe, expect, it } from 'vitest';
import { DomainError } from '#libs/contracts';
import { CredentialCipher, maskEnv, maskSecret } from './credential-cipher.js';

describe('CredentialCipher', () => {
  const sut = new CredentialCipher('salt-key');

  it('round-trips a secret and never stores it in clear', () => {
    const stored = sut.encrypt('ghp_supersecrettoken1234');
    expect(stored).toMatch(/^enc:v1:/);
    expect(stored).not.toContain('supersecret');
    expect(sut.decrypt(stored)).toBe('ghp_supersecrettoken1234');
  });

  it('uses a fresh IV each time', () => {
    expect(sut.encrypt('same')).not.toBe(sut.encrypt('same'));
  });

  it('round-trips JSON (env maps)', () => {
    expect(sut.decryptJson(sut.encryptJson({ A: '1', B: 'two' }))).toEqual({ A: '1', B: 'two' });
  });

  it('refuses ciphertext made with another key or tampered with, as a DomainError', () => {
    const stored = sut.encrypt('secret');
    expect(() => new CredentialCipher('other').decrypt(stored)).toThrow(DomainError);
    const tampered = stored.slice(0, -4) + (stored.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(() => sut.decrypt(tampered)).toThrow(/cannot decrypt/);
    expect(() => sut.decrypt('plain')).toThrow(DomainError);
  });
});

describe('masking', () => {
  it('shows the last 4 characters only of secrets of at least 12 characters', () => {
    expect(maskSecret('abcdefghijkl')).toBe('****ijkl');
    expect(maskSecret('abcdefghijk')).toBe('****');
    expect(maskSecret('x')).toBe('****');
    expect(maskSecret(null)).toBeNull();
    expect(maskSecret('')).toBeNull();
  });

  it('always hides env values, keeping the names', () => {
    expect(maskEnv({ TOKEN: 'a-very-long-secret-value', LOG_LEVEL: 'info' })).toEqual({ TOKEN: '****', LOG_LEVEL: '****' });
  });
});
