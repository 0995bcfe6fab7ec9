import { resolve } from 'node:path';
import { DEFAULT_DATA_DIR, openEmbeddedDatabase, type EmbeddedDatabase } from '#libs/database';

// `npm start`'s process. Opening the embedded database (PGlite: a WebAssembly Postgres reading its folder) and
// loading the five services' code both take a while: the opening starts first and runs while the rest loads.
let embedded: Promise<EmbeddedDatabase> | undefined;
if (!process.env.DATABASE_URL) {
  embedded = openEmbeddedDatabase(resolve(process.env.SWITCHBOARD_DATA_DIR || DEFAULT_DATA_DIR));
  embedded.catch(() => undefined); // reported by the host, which awaits it
}
const { runOneProcess } = await import('./host.js');
await runOneProcess(embedded);
