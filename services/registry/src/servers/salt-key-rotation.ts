import { existsSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_DATA_DIR, openEmbeddedDatabase, type DatabaseTarget } from '#libs/database';
import { openRegistryDatabase } from '../database.js';
import { CredentialCipher } from './credential-cipher.js';
import { generateSaltKey, resolveSaltKey, SALT_KEY_FILE, writeSecretFile } from './salt-key.js';
import { ServerRepository } from './server.repository.js';

export const ROTATE_USAGE = `usage: npm run data -- rotate-salt-key [--database postgres://… | --data-dir DIR]
Re-encrypts every stored upstream credential with a new key, in one transaction. Stop the gateway first.
The current key: SWITCHBOARD_SALT_KEY, else the data folder's ${SALT_KEY_FILE}.
The new key: SWITCHBOARD_NEW_SALT_KEY; for a data folder without it, a new key is generated and written to its ${SALT_KEY_FILE}.
--database defaults to DATABASE_URL; without one, the data folder (SWITCHBOARD_DATA_DIR, else ${DEFAULT_DATA_DIR}).`;

interface RotateIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

/** `npm run data -- rotate-salt-key`: returns the exit code (0, or 1 after one line on stderr). Keys never printed. */
export async function runRotateSaltKey(argv: readonly string[], io: RotateIo): Promise<number> {
  const fail = (message: string) => {
    io.stderr.write(`switchboard data: ${message}\n`);
    return 1;
  };
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(`${ROTATE_USAGE}\n`);
    return 0;
  }
  const option = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const unknown = argv.filter((a, i) => a.startsWith('--') && a !== '--database' && a !== '--data-dir' && !(i > 0 && ['--database', '--data-dir'].includes(argv[i - 1]!)));
  if (unknown.length) return fail(`unknown option ${unknown[0]}\n${ROTATE_USAGE}`);
  const url = option('--database') ?? (option('--data-dir') ? undefined : io.env.DATABASE_URL);
  if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) return fail(`--database must be a postgres:// URL`);

  let target: DatabaseTarget;
  let closeEmbedded: (() => Promise<void>) | undefined;
  let dataDir: string | undefined;
  try {
    if (url) {
      target = { kind: 'postgres', url };
    } else {
      dataDir = resolve(option('--data-dir') ?? io.env.SWITCHBOARD_DATA_DIR ?? DEFAULT_DATA_DIR);
      if (!existsSync(join(dataDir, SALT_KEY_FILE)) && !io.env.SWITCHBOARD_SALT_KEY) return fail(`${dataDir} has no ${SALT_KEY_FILE}: nothing to rotate from`);
      const embedded = await openEmbeddedDatabase(dataDir);
      closeEmbedded = () => embedded.close();
      target = embedded.target;
    }
  } catch (error) {
    return fail((error as Error).message);
  }

  const newKey = io.env.SWITCHBOARD_NEW_SALT_KEY || (dataDir ? generateSaltKey() : undefined);
  const dataSource = await openRegistryDatabase(target).catch((error: Error) => error);
  try {
    if (dataSource instanceof Error) return fail(`cannot open the database: ${dataSource.message}`);
    if (!newKey) return fail('set SWITCHBOARD_NEW_SALT_KEY to the new key (the database is Postgres: no file to keep a generated one in)');
    const current = resolveSaltKey(io.env.SWITCHBOARD_SALT_KEY, target);
    if (current.material === newKey) return fail('the new key is the current key');
    // With a data folder, the new key is on disk before the data changes: a crash in between leaves both keys.
    const pending = dataDir ? join(dataDir, `${SALT_KEY_FILE}.new`) : undefined;
    if (pending) writeSecretFile(pending, newKey);
    const rewritten = await new ServerRepository(dataSource, new CredentialCipher(current.material)).reencryptCredentials(
      new CredentialCipher(current.material),
      new CredentialCipher(newKey),
    );
    if (pending) renameSync(pending, join(dataDir!, SALT_KEY_FILE));
    io.stdout.write(`re-encrypted the credentials of ${rewritten} server(s) with the new key\n`);
    io.stdout.write(
      dataDir
        ? `the new key is in ${join(dataDir, SALT_KEY_FILE)}${io.env.SWITCHBOARD_SALT_KEY ? '; set SWITCHBOARD_SALT_KEY to it (or unset it) before starting' : ''}\n`
        : 'set SWITCHBOARD_SALT_KEY to the new key on every registry before starting the gateway again\n',
    );
    return 0;
  } catch (error) {
    return fail((error as Error).message);
  } finally {
    if (!(dataSource instanceof Error)) await dataSource.destroy().catch(() => undefined);
    await closeEmbedded?.();
  }
}
