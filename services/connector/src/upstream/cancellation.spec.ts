import { describe, expect, it, vi } from 'vitest';
import { Cancellation } from './cancellation.js';

describe('Cancellation', () => {
  it('calls each listener once with the reason, and none that was removed', () => {
    const cancellation = new Cancellation();
    const kept = vi.fn();
    const removed = vi.fn();
    cancellation.onAbort(kept);
    cancellation.onAbort(removed)();
    cancellation.abort('cancelled by the client');
    cancellation.abort('again');
    expect(kept).toHaveBeenCalledExactlyOnceWith('cancelled by the client');
    expect(removed).not.toHaveBeenCalled();
    expect(cancellation).toMatchObject({ aborted: true, reason: 'cancelled by the client' });
  });

  it('gives an AbortSignal that follows it, made once, aborted already when asked for late', () => {
    const early = new Cancellation();
    const signal = early.toSignal();
    expect(early.toSignal()).toBe(signal);
    expect(signal.aborted).toBe(false);
    early.abort('stop');
    expect(signal).toMatchObject({ aborted: true, reason: 'stop' });

    const late = new Cancellation();
    late.abort('gone');
    expect(late.toSignal()).toMatchObject({ aborted: true, reason: 'gone' });
  });
});
