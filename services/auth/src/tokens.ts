/** Injection tokens of the auth module (classes are their own tokens otherwise). */
export const MASTER_KEY = Symbol('MASTER_KEY');
/** `() => epoch ms`; tests inject a fixed clock. */
export const CLOCK = Symbol('CLOCK');
export type Clock = () => number;
export const AUDIT_BATCH_OPTIONS = Symbol('AUDIT_BATCH_OPTIONS');
export interface AuditBatchOptions {
  /** Flush at most this long after the first buffered record. */
  flushIntervalMs: number;
  /** Flush at once when this many records are buffered; also the insert chunk size. */
  maxBatch: number;
}
export const RETENTION_OPTIONS = Symbol('RETENTION_OPTIONS');
export interface RetentionOptions {
  /** Audit rows older than this are deleted; undefined keeps them all. */
  auditRetentionMs?: number;
  /** Between two cleanups. */
  intervalMs: number;
  /** From start to the first cleanup. */
  firstRunDelayMs: number;
}
