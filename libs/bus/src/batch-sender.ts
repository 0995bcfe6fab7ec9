import { Logger } from '@nestjs/common';
import type { Contract, RequestOf } from '#libs/contracts';
import { runDetached } from '#libs/observability';
import type { Bus } from './bus.js';

/** One item of a contract whose request is a list. */
type ItemOf<C extends Contract> = RequestOf<C> extends readonly (infer T)[] ? T : never;

export interface BatchSenderOptions {
  /** Names what is sent in log lines ("audit records"). */
  what: string;
  /** A batch leaves this long after its first item, or at once when it is full. */
  flushEveryMs: number;
  maxBatch: number;
  /** Items kept while nobody accepts them; past it the oldest are dropped (and logged). */
  maxPending: number;
  /** How long after a failed send it is tried again. */
  retryMs: number;
  /** Per send. */
  timeoutMs: number;
}

/**
 * Sends items in batches as bus calls, one batch at a time and in order, and keeps what was not accepted to send
 * again: with no service answering (all replicas restarting) nothing is lost until `maxPending` items wait. A send
 * that timed out may have been accepted: the items are sent again (at least once). Callers never wait.
 */
export class BatchSender<C extends Contract, T = ItemOf<C>> {
  private readonly log: Logger;
  private pending: T[] = [];
  private timer?: NodeJS.Timeout;
  private sending?: Promise<void>;
  private failing = false;
  private dropped = 0;
  private closed = false;

  constructor(
    private readonly bus: Bus,
    private readonly contract: C,
    private readonly options: BatchSenderOptions,
  ) {
    this.log = new Logger(`BatchSender(${contract.name})`);
  }

  /** Items waiting to be accepted. */
  get waiting(): number {
    return this.pending.length;
  }

  add(item: T): void {
    this.pending.push(item);
    this.trim();
    if (this.failing || this.sending) return; // the retry or the send in flight picks it up
    if (this.pending.length >= this.options.maxBatch) this.start();
    else this.timer ??= setTimeout(() => this.start(), this.options.flushEveryMs);
  }

  /** Sends what is waiting now (one attempt per batch); resolves when done or failed. */
  async flush(): Promise<void> {
    await this.sending;
    if (this.pending.length > 0) await this.start();
  }

  /** A last attempt, then what is still waiting is given up (and logged). */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    clearTimeout(this.timer);
    if (this.pending.length > 0) this.log.error(`${this.pending.length} ${this.options.what} not delivered: nobody accepted them before shutdown`);
  }

  private start(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.sending ??= runDetached(() => this.drain()).finally(() => {
      this.sending = undefined;
      // added after the last batch left but before this ran (add saw a send in flight and left it to it)
      if (this.pending.length > 0 && !this.failing && !this.closed) this.timer ??= setTimeout(() => this.start(), this.options.flushEveryMs);
    });
    return this.sending;
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.options.maxBatch);
      try {
        await this.bus.call(this.contract, batch as RequestOf<C>, { timeoutMs: this.options.timeoutMs });
      } catch (error) {
        this.pending.unshift(...batch);
        this.trim();
        if (!this.failing) this.log.warn(`${this.options.what} kept to send again: ${(error as Error).message}`);
        this.failing = true;
        if (!this.closed) this.timer = setTimeout(() => this.start(), this.options.retryMs);
        return;
      }
      if (this.failing) this.log.log(`${this.options.what} delivered again (${this.pending.length} still waiting)`);
      this.failing = false;
    }
  }

  private trim(): void {
    const over = this.pending.length - this.options.maxPending;
    if (over <= 0) return;
    this.pending.splice(0, over);
    this.dropped += over;
    this.log.error(`${over} ${this.options.what} dropped: ${this.options.maxPending} already waiting (${this.dropped} dropped in all)`);
  }
}
