import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The caller's key from `x-litellm-api-key` or `Authorization` (with or without "Bearer "). */
export function extractApiKey(headers: IncomingHttpHeaders): string | undefined {
  const raw = (headers['x-litellm-api-key'] as string | undefined) ?? headers.authorization;
  if (!raw) return undefined;
  const value = raw.trim().replace(/^Bearer(\s+|$)/i, '').trim();
  return value || undefined;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function constantTimeEquals(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}
