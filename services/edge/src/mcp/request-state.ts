/**
 * The gateway's `requestState` (MCP 2026-07-28, multi round-trip requests). The client echoes it back verbatim,
 * so it is attacker-controlled input: it is sealed with AES-256-GCM (authenticated encryption: nothing in it can
 * be read or changed), bound to the caller and the server, and expires. Every edge replica derives the same key
 * from the deployment's shared secret, so a retry may land on any of them.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const PREFIX = 'sb1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const AAD = Buffer.from('switchboard requestState v1');

/** What the gateway keeps in a requestState. */
export type RequestStateClaims =
  /** A call parked in a connector instance, waiting for the client's answers. */
  | { kind: 'parked'; instance: string; park_id: string; server_id: string; principal: string; request: string; exp: number }
  /** A 2026-07-28 upstream's own requestState, passed back to it on the retry (through any connector). */
  | { kind: 'upstream'; state: string; server_id: string; principal: string; request: string; exp: number };

type Unsealed<T> = T extends unknown ? Omit<T, 'exp'> : never;

export class RequestStateSealer {
  private readonly key: Buffer;

  /** `secret`: shared by every edge of the deployment; without one, a key of this process (one edge only). */
  constructor(secret: string | undefined) {
    const material = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
    this.key = Buffer.from(hkdfSync('sha256', material, 'switchboard', 'mcp requestState', 32));
  }

  seal(claims: Unsealed<RequestStateClaims>, ttlMs: number): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(AAD);
    const plain = Buffer.from(JSON.stringify({ ...claims, exp: Date.now() + ttlMs }), 'utf8');
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return PREFIX + sealed.toString('base64url');
  }

  /** The claims, or undefined for anything not sealed by this deployment, altered, or expired. */
  open(token: unknown): RequestStateClaims | undefined {
    if (typeof token !== 'string' || !token.startsWith(PREFIX) || token.length > 64 * 1024) return undefined;
    const body = token.slice(PREFIX.length);
    const sealed = Buffer.from(body, 'base64url');
    // only the one spelling it was sealed with: the decoder would skip characters outside base64url, or ignore
    // trailing bits, and take an altered string for the same state
    if (sealed.toString('base64url') !== body) return undefined;
    if (sealed.length < IV_BYTES + TAG_BYTES + 2) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(0, IV_BYTES));
      decipher.setAAD(AAD);
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
      const claims = JSON.parse(plain.toString('utf8')) as RequestStateClaims;
      return typeof claims.exp === 'number' && claims.exp > Date.now() ? claims : undefined;
    } catch {
      return undefined;
    }
  }
}
