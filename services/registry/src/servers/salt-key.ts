import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseTarget } from '#libs/database';

/** Inside an embedded data folder: the key upstream credentials are encrypted with, kept beside the data. */
export const SALT_KEY_FILE = 'salt.key';

export class SaltKeyMissingError extends Error {}

export interface SaltKey {
  material: string;
  /** Where it came from, for the start-up log (never the key itself). */
  source: 'SWITCHBOARD_SALT_KEY' | 'data folder' | 'data folder (generated now)';
  /** The file holding it, for a data folder. */
  file?: string;
}

/**
 * The key material for upstream credentials at rest: SWITCHBOARD_SALT_KEY when set; else, with the embedded
 * database, the data folder's salt.key (generated on first start, mode 0600); with Postgres it is required, because
 * no file travels with that database and a key derived from anything else (the master key) would make every stored
 * credential unreadable the day that changes.
 */
export function resolveSaltKey(configured: string | undefined, database: DatabaseTarget): SaltKey {
  if (configured) return { material: configured, source: 'SWITCHBOARD_SALT_KEY' };
  if (database.kind === 'postgres') {
    throw new SaltKeyMissingError(
      'SWITCHBOARD_SALT_KEY must be set when the database is Postgres: upstream credentials are encrypted with it. ' +
        `Use the same value on every registry replica and keep it safe (a data folder copied with "npm run data -- copy" has its key in ${SALT_KEY_FILE}).`,
    );
  }
  const file = join(database.database.dataDir, SALT_KEY_FILE);
  if (existsSync(file)) {
    const material = readFileSync(file, 'utf8').trim();
    if (!material) throw new SaltKeyMissingError(`${file} is empty: restore it from a backup (stored credentials cannot be read without it)`);
    return { material, source: 'data folder', file };
  }
  const material = generateSaltKey();
  writeSecretFile(file, material);
  return { material, source: 'data folder (generated now)', file };
}

export function generateSaltKey(): string {
  return randomBytes(32).toString('base64url');
}

/** Writes `content` readable by the owner only, replacing `file` atomically. */
export function writeSecretFile(file: string, content: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${content}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}
