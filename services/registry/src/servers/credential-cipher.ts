import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { DomainError } from '#libs/contracts';

const PREFIX = 'enc:v1:';
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
/** AES-256-GCM for upstream credentials at rest; the key is sha256 of the key material. */
export class CredentialCipher {
  private readonly key: Buffer;

  constructor(material: string) {
    this.key = createHash('sha256').update(material, 'utf8').digest();
  }

  encrypt(plain: string): string {
    const iv = randomBytes(IV_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  decrypt(stored: string): string {
    if (!stored.startsWith(PREFIX)) throw new DomainError('INTERNAL', 'stored credential is not in the expected format');
    const raw = Buffer.from(stored.slice(PREFIX.length), 'base64');
    if (raw.length < IV_LENGTH + TAG_LENGTH) throw new DomainError('INTERNAL', 'stored credential is truncated');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_LENGTH));
      decipher.setAuthTag(raw.subarray(IV_LENGTH, IV_LENGTH + TAG_LENGTH));
      return Buffer.concat([decipher.update(raw.subarray(IV_LENGTH + TAG_LENGTH)), decipher.final()]).toString('utf8');
    } catch {
      throw new DomainError('INTERNAL', 'cannot decrypt a stored credential: was SWITCHBOARD_SALT_KEY (or the data folder\'s salt.key) changed?');
    }
  }

  encryptJson(value: unknown): string {
    return this.encrypt(JSON.stringify(value));
  }

  decryptJson<T>(stored: string): T {
    return JSON.parse(this.decrypt(stored)) as T;
  }
}

/** What views show of a secret: "****" and, when the secret is long enough to spare them, its last 4 characters. */
export function maskSecret(secret: string | null | undefined): string | null {
  if (secret === null || secret === undefined || secret === '') return null;
  return secret.length >= 12 ? `****${secret.slice(-4)}` : '****';
}

/** Env values are never shown, whatever their length. */
export function maskEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(env).map((k) => [k, '****']));
}
