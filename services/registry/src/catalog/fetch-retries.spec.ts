import { afterEach, describe, expect, it } from 'vitest';
import { FetchRetries } from './fetch-retries.js';

const made: FetchRetries[] = [];
afterEach(() => {
  for (const retries of made.splice(0)) retries.stop();
});

function setup(random = () => 0, onDue = () => undefined) {
  const sut = new FetchRetries({ initialMs: 500, maxMs: 30_000, random }, onDue);
  made.push(sut);
  return sut;
}

describe('FetchRetries', () => {
  it('backs off from 0.5 s doubling to 30 s', () => {
    const sut = setup();
    const waits = Array.from({ length: 9 }, () => sut.record('s', 'failed'));
    expect(waits).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('takes up to a quarter off each wait as jitter, never more', () => {
    expect(setup(() => 0.999).record('s', 'failed')).toBe(375);
    expect(setup(() => 0.5).record('s', 'unanswered')).toBe(438);
  });

  it('starts again from the first step once the server answered', () => {
    const sut = setup();
    sut.record('s', 'failed');
    sut.record('s', 'failed');
    sut.record('s', 'answered');
    expect(sut.isWaiting('s')).toBe(false);
    expect(sut.record('s', 'failed')).toBe(500);
  });

  it('makes the server due when its wait is over, and tells the owner', async () => {
    let told = 0;
    const sut = new FetchRetries({ initialMs: 5, maxMs: 5 }, () => told++);
    made.push(sut);
    sut.record('s', 'failed');
    expect(sut.isWaiting('s')).toBe(true);
    await new Promise((r) => setTimeout(r, 30));
    expect(told).toBe(1);
    expect(sut.isWaiting('s')).toBe(false);
    expect(sut.takeDue('s')).toBe(true);
    expect(sut.takeDue('s')).toBe(false);
  });

  it('makes every server left out due at once when a connector joins, its backoff started again', () => {
    const sut = setup();
    sut.record('a', 'unanswered');
    sut.record('b', 'failed');
    sut.record('b', 'failed');
    expect(sut.retryAllNow()).toBe(2);
    expect([sut.takeDue('a'), sut.takeDue('b')]).toEqual([true, true]);
    expect(sut.record('b', 'failed')).toBe(500);
  });

  it('is ready once every server was fetched (a failure of its own counts, no connector does not), and stays so', () => {
    const sut = setup();
    sut.record('a', 'answered');
    sut.record('b', 'unanswered');
    expect(sut.noteBuilt(['a', 'b'])).toBe(false);
    expect(sut.unanswered()).toEqual(['b']);
    sut.record('b', 'failed');
    expect(sut.noteBuilt(['a', 'b'])).toBe(true);
    // a server added later does not take readiness back while it is fetched
    expect(sut.noteBuilt(['a', 'b', 'c'])).toBe(true);
    expect(sut.isReady()).toBe(true);
  });

  it('counts a cached answer as a fetch and forgets servers that are gone', () => {
    const sut = setup();
    sut.markAnswered('a');
    sut.record('gone', 'unanswered');
    sut.keepOnly(new Set(['a']));
    expect(sut.isWaiting('gone')).toBe(false);
    expect(sut.noteBuilt(['a'])).toBe(true);
  });
});
