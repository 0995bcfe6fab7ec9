import { DomainError } from '#libs/contracts';

/**
 * Retries an idempotent bus call while it fails for want of a replica or of the bus (no responders, a replica gone
 * silent, the bus reconnecting), with backoff from 100 ms, until `withinMs` has passed. For what may be delivered
 * twice without harm only: a client's answer to a server-to-client request (a second delivery finds nothing
 * waiting), never a tool call.
 */
export async function retryIdempotent<T>(call: () => Promise<T>, withinMs = 10_000): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await call();
    } catch (error) {
      const transient = error instanceof DomainError && (error.code === 'UPSTREAM_UNAVAILABLE' || error.code === 'BUS_TIMEOUT');
      if (!transient || Date.now() + delay > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
