import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { durationToSeconds } from '#libs/contracts';

export const KEY_PREFIX = 'sk-';
const TOKEN_HASH = /^[0-9a-f]{64}$/;

/** `sk-` + 43 url-safe characters (32 random bytes). Shown once, never stored. */
export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** The stored form of a key: sha256, hex. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** `sk-...abcd`: safe to show and log. */
export function keyPreview(key: string): string {
  return `${KEY_PREFIX}...${key.slice(-4)}`;
}

export function isTokenHash(value: string): boolean {
  return TOKEN_HASH.test(value);
}

/** The token hashes a reference can mean: the hash of a key, or a hash given as is. Aliases are matched separately. */
export function candidateHashes(ref: string): string[] {
  if (ref.startsWith(KEY_PREFIX)) return [hashKey(ref)];
  return isTokenHash(ref) ? [ref] : [];
}

/** Expiry time for a LiteLLM duration counted from `nowMs`; null/undefined duration = never. */
export function expiresFrom(duration: string | null | undefined, nowMs: number): Date | null {
  if (duration === null || duration === undefined) return null;
  return new Date(nowMs + durationToSeconds(duration) * 1000);
}

/** Constant-time comparison of a presented key with the master key (hashing first makes the lengths equal). */
export function isMasterKey(presented: string, masterKey: string | undefined): boolean {
  if (!masterKey) return false;
  return timingSafeEqual(createHash('sha256').update(presented).digest(), createHash('sha256').update(masterKey).digest());
}
