import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { LlmRequestCancelled } from '#libs/contracts';

/** How long a cancellation heard before its request is kept: the event and the request travel apart. */
const EARLY_CANCEL_MS = 60_000;
const MAX_EARLY_CANCELS = 10_000;

export interface Cancellation {
  /** Aborted when the request's client went away (undefined: the request names no cancel id). */
  signal: AbortSignal | undefined;
  /** The request is over: forget it. */
  done(): void;
}

/**
 * The LLM requests running in this replica, by the cancel id the edge gave them. Every replica hears each
 * LlmRequestCancelled; the one running the request aborts it (its provider request closes, no further turn runs).
 */
@Injectable()
export class Cancellations implements OnModuleInit, OnModuleDestroy {
  private readonly running = new Map<string, AbortController>();
  private readonly early = new Map<string, number>();
  private stop?: () => void;

  constructor(@Inject(Bus) private readonly bus: Bus) {}

  onModuleInit(): void {
    this.stop = this.bus.subscribe(LlmRequestCancelled, ({ cancel_id }) => this.cancel(cancel_id));
  }

  onModuleDestroy(): void {
    this.stop?.();
  }

  track(cancelId: string | undefined): Cancellation {
    if (!cancelId) return { signal: undefined, done: () => undefined };
    const controller = new AbortController();
    if (this.early.delete(cancelId)) controller.abort();
    else this.running.set(cancelId, controller);
    return { signal: controller.signal, done: () => void this.running.delete(cancelId) };
  }

  private cancel(cancelId: string): void {
    const running = this.running.get(cancelId);
    if (running) {
      running.abort();
      this.running.delete(cancelId);
      return;
    }
    // not (yet) here: it may still arrive, or it runs in another replica
    const now = Date.now();
    for (const [id, at] of this.early) {
      if (at > now - EARLY_CANCEL_MS && this.early.size < MAX_EARLY_CANCELS) break;
      this.early.delete(id);
    }
    this.early.set(cancelId, now);
  }
}
