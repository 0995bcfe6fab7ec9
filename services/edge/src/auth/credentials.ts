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

/** A key's SHA-256 digest: compared in constant time with the master key's, its hex is the stored hash. */
export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** Whether a key's digest is the master key's (both digests, so the comparison takes the same time whatever the key). */
export function isDigestOf(digest: Buffer, masterDigest: Buffer): boolean {
  return timingSafeEqual(digest, masterDigest);
}

export function constantTimeEquals(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}
