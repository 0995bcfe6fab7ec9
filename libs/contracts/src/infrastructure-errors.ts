/**
 * Errors that mean "a backing service (the database, the store) cannot be reached right now", as Node and the
 * Postgres driver raise them: they cross the bus as a retryable UPSTREAM_UNAVAILABLE (503 at the edge, never 500),
 * and their message names no address (the caller learns that it may retry, not where the database runs).
 */

/** Socket errors of a connection that could not be made or was cut. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** SQLSTATEs of Postgres going away: class 08 (connection exception), admin shutdown, crash shutdown, cannot connect now. */
const POSTGRES_UNAVAILABLE = /^(08...|57P01|57P02|57P03)$/;
/** What the driver says when the server vanished under an open connection (no code). */
const DRIVER_MESSAGES = /Connection terminated|connection terminated unexpectedly|Client has encountered a connection error|timeout exceeded when trying to connect|Connection is closed/i;

/** The reason to name when `error` (or what it wraps) says a backing service is unreachable; undefined otherwise. */
export function unreachableBackend(error: unknown, depth = 0): string | undefined {
  if (!error || typeof error !== 'object' || depth > 3) return undefined;
  const { code, message, driverError, cause } = error as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || POSTGRES_UNAVAILABLE.test(code))) return code;
  if (typeof message === 'string' && DRIVER_MESSAGES.test(message)) return 'connection lost';
  return unreachableBackend(driverError, depth + 1) ?? unreachableBackend(cause, depth + 1);
}

/** SQLSTATEs of class 22 (data exception): a value the database will not store, which is the caller's input. */
const DATA_EXCEPTIONS: Record<string, string> = {
  '22P05': 'text may not contain the NUL character (\\u0000)',
  '22021': 'text may not contain the NUL character (\\u0000) or invalid UTF-8',
  '22003': 'a number is out of range',
  '22007': 'a date is out of range or malformed',
  '22008': 'a date is out of range',
  '22001': 'a value is too long',
};

/** What to tell the caller when `error` (or what it wraps) is the database refusing a value; undefined otherwise. */
export function unstorableValue(error: unknown, depth = 0): { message: string; sqlstate: string } | undefined {
  if (!error || typeof error !== 'object' || depth > 3) return undefined;
  const { code, driverError, cause } = error as { code?: unknown; driverError?: unknown; cause?: unknown };
  if (typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code)) return { message: DATA_EXCEPTIONS[code] ?? 'a value cannot be stored', sqlstate: code };
  return unstorableValue(driverError, depth + 1) ?? unstorableValue(cause, depth + 1);
}
