import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('starts at 0.5 s and doubles up to 30 s', () => {
    let now = 0;
    const sut = new Backoff(500, 30_000, 60_000, () => now);
    const delays = Array.from({ length: 9 }, () => sut.fail());
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(sut.attempts).toBe(9);
  });

  it('allows the next attempt once the delay has passed', () => {
    let now = 1_000;
    const sut = new Backoff(500, 30_000, 60_000, () => now);
    expect(sut.waitMs()).toBe(0);
    sut.fail();
    expect(sut.waitMs()).toBe(500);
    now += 300;
    expect(sut.waitMs()).toBe(200);
    now += 200;
    expect(sut.waitMs()).toBe(0);
  });

  it('starts over after a process stayed up long enough to count as healthy', () => {
    let now = 0;
    const sut = new Backoff(500, 30_000, 60_000, () => now);
    sut.fail();
    sut.fail();
    sut.fail();
    expect(sut.fail(59_000)).toBe(4000);
    expect(sut.fail(60_000)).toBe(500);
    expect(sut.attempts).toBe(1);
  });

  it('reset clears failures and the wait', () => {
    const sut = new Backoff(500, 30_000, 60_000, () => 0);
    sut.fail();
    sut.reset();
    expect(sut.attempts).toBe(0);
    expect(sut.waitMs()).toBe(0);
  });
});
