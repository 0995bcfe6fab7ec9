import { afterEach, describe, expect, it, vi } from 'vitest';
import { RequestStateSealer } from './request-state.js';

const claims = { kind: 'parked', instance: 'c0ffee', park_id: 'p-1', server_id: 's-1', principal: 'hash-a', request: 'r' } as const;

describe('RequestStateSealer', () => {
  afterEach(() => vi.useRealTimers());

  it('opens what it sealed, and what another edge with the same secret sealed', () => {
    const token = new RequestStateSealer('shared').seal(claims, 60_000);
    expect(new RequestStateSealer('shared').open(token)).toMatchObject(claims);
  });

  it('hides what it carries', () => {
    const token = new RequestStateSealer('shared').seal(claims, 60_000);
    expect(token).not.toContain('c0ffee');
    expect(Buffer.from(token.slice(4), 'base64url').toString('latin1')).not.toContain('p-1');
  });

  it('refuses an altered, foreign, truncated or expired token, and anything that is not one', () => {
    const sealer = new RequestStateSealer('shared');
    const token = sealer.seal(claims, 60_000);
    const flipped = token.slice(0, 20) + (token[20] === 'A' ? 'B' : 'A') + token.slice(21);
    expect(sealer.open(flipped)).toBeUndefined();
    expect(new RequestStateSealer('other').open(token)).toBeUndefined();
    expect(sealer.open(token.slice(0, -6))).toBeUndefined();
    for (const junk of [undefined, 42, '', 'sb1.', 'sb1.!!!!', 'not-ours', { token }]) expect(sealer.open(junk)).toBeUndefined();
    vi.useFakeTimers({ now: Date.now() + 61_000 });
    expect(sealer.open(token)).toBeUndefined();
  });

  it('refuses another spelling of the same bytes (characters outside base64url, altered trailing bits)', () => {
    const sealer = new RequestStateSealer('shared');
    const token = sealer.seal(claims, 60_000);
    for (const respelled of [`${token}!`, `${token}.`, `${token} `, `${token}==`, `${token.slice(0, 10)}\n${token.slice(10)}`]) {
      expect(Buffer.from(respelled.slice(4), 'base64url').equals(Buffer.from(token.slice(4), 'base64url'))).toBe(true);
      expect(sealer.open(respelled)).toBeUndefined();
    }
  });

  it('without a secret, only this process opens it', () => {
    const token = new RequestStateSealer(undefined).seal(claims, 60_000);
    expect(new RequestStateSealer(undefined).open(token)).toBeUndefined();
  });
});
