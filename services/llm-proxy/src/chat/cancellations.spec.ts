import { afterEach, describe, expect, it } from 'vitest';
import { InProcessBus } from '#libs/bus';
import { LlmRequestCancelled } from '#libs/contracts';
import { waitFor } from '#libs/testing';
import { Cancellations } from './cancellations.js';

describe('Cancellations', () => {
  const bus = new InProcessBus();
  const replicas: Cancellations[] = [];
  const replica = () => {
    const c = new Cancellations(bus);
    c.onModuleInit();
    replicas.push(c);
    return c;
  };
  afterEach(() => replicas.splice(0).forEach((c) => c.onModuleDestroy()));

  it('aborts the request running under the cancel id, in whichever replica runs it', async () => {
    const [a, b] = [replica(), replica()];
    const running = b.track('cancel-id-0123456789');
    const other = a.track('cancel-id-other-0123');
    bus.publish(LlmRequestCancelled, { cancel_id: 'cancel-id-0123456789' });
    await waitFor(() => running.signal!.aborted, 2000);
    expect(other.signal!.aborted).toBe(false);
    running.done();
    other.done();
  });

  it('aborts a request whose cancellation arrived first (the event and the request travel apart)', async () => {
    const a = replica();
    const heard = new Promise<void>((resolve) => bus.subscribe(LlmRequestCancelled, () => resolve()));
    bus.publish(LlmRequestCancelled, { cancel_id: 'cancel-id-early-0123' });
    await heard;
    expect(a.track('cancel-id-early-0123').signal!.aborted).toBe(true);
    // used up: the same id again is a new request
    expect(a.track('cancel-id-early-0123').signal!.aborted).toBe(false);
  });

  it('gives no signal to a request without a cancel id', () => {
    expect(replica().track(undefined).signal).toBeUndefined();
  });
});
