import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { DomainError } from '#libs/contracts';

const PREFIX = 'enc:v1:';
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
/** Used only when neither SWITCHBOARD_SALT_KEY nor a master key is set: a development set-up, warned about at start. */
export const DEVELOPMENT_KEY = 'switchboard-development-only-key';

export type CredentialKeySource = 'SWITCHBOARD_SALT_KEY' | 'master_key' | 'development';

/** SWITCHBOARD_SALT_KEY, else the master key, else the fixed development key (warn when that happens). */
export function credentialKeyMaterial(saltKey: string | undefined, masterKey: string | undefined): { material: string; source: CredentialKeySource } {
  if (saltKey) return { material: saltKey, source: 'SWITCHBOARD_SALT_KEY' };
  if (masterKey) return { material: masterKey, source: 'master_key' };
  return { material: DEVELOPMENT_KEY, source: 'development' };
}

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
      throw new DomainError('INTERNAL', 'cannot decrypt a stored credential: was SWITCHBOARD_SALT_KEY or the master key changed?');
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
