import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Per-call headers for a pooled upstream session. The pool runs each request inside `withRequestHeaders`, and
 * the transports read them when they send: one session, each request with its own client's credentials.
 */
const storage = new AsyncLocalStorage<Record<string, string>>();

export function withRequestHeaders<T>(headers: Record<string, string> | undefined, run: () => T): T {
  return headers && Object.keys(headers).length > 0 ? storage.run(headers, run) : storage.exit(run);
}

export function currentRequestHeaders(): Record<string, string> | undefined {
  return storage.getStore();
}
