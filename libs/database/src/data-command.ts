import { join, resolve } from 'node:path';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import type { DatabaseTarget } from './data-source.js';
import { countRows, occupiedTables, readService, writeService, TargetNotEmptyError, type DataDump, type ServiceData } from './data-transfer.js';
import { DEFAULT_DATA_DIR, embeddedDatabaseExists, openEmbeddedDatabase } from './embedded-database.js';

export const DATA_USAGE = `usage: npm run data -- <command>
  copy   [--from <data folder | postgres://…>] --to <postgres://… | data folder> [--force]
  export [--from <data folder | postgres://…>] > file.json
  import --to <postgres://… | data folder> [--force] < file.json
--from defaults to SWITCHBOARD_DATA_DIR (else ${DEFAULT_DATA_DIR}); copy's --to defaults to DATABASE_URL.
A target that already holds rows is refused unless --force, which replaces them.`;

export interface DataCommandIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

/** A place holding Switchboard's data: a Postgres database (URL) or an embedded data folder. */
type Location = { kind: 'postgres'; url: string } | { kind: 'folder'; dir: string };

interface OpenedLocation {
  target: DatabaseTarget;
  close(): Promise<void>;
}

/**
 * `npm run data -- copy|export|import …`: moves servers, keys, teams, organizations and the audit log between the
 * embedded database and Postgres, ids, hashes and ciphertext unchanged. Returns the exit code: 0, or 1 after one
 * line on stderr.
 */
export async function runDataCommand(argv: readonly string[], services: readonly ServiceData[], io: DataCommandIo): Promise<number> {
  try {
    const { command, from, to, force } = parseArgs(argv, io.env);
    if (command === 'help') {
      io.stdout.write(`${DATA_USAGE}\n`);
      return 0;
    }
    if (command === 'export') {
      const dump = await readAll(from!, services);
      io.stdout.write(`${JSON.stringify(dump)}\n`);
      io.stderr.write(summary(dump, `exported from ${describe(from!)}`));
      return 0;
    }
    const dump = command === 'copy' ? await readAll(from!, services) : parseDump(await readStdin(io.stdin));
    await writeAll(to!, services, dump, force);
    io.stdout.write(summary(dump, command === 'copy' ? `copied from ${describe(from!)} to ${describe(to!)}` : `imported into ${describe(to!)}`));
    if (command === 'copy' && from!.kind === 'folder' && to!.kind === 'postgres') {
      // the ciphertext was copied unchanged: it still needs the folder's key (never printed here)
      io.stdout.write(`upstream credentials stay encrypted with the key in ${join(from!.dir, 'salt.key')}: start the gateway on the copy with SWITCHBOARD_SALT_KEY set to it\n`);
    }
    return 0;
  } catch (error) {
    io.stderr.write(`switchboard data: ${(error as Error).message}\n`);
    return 1;
  }
}

function parseArgs(argv: readonly string[], env: DataCommandIo['env']): { command: 'copy' | 'export' | 'import' | 'help'; from?: Location; to?: Location; force: boolean } {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') return { command: 'help', force: false };
  if (command !== 'copy' && command !== 'export' && command !== 'import') throw new Error(`unknown command "${command}" (copy, export or import; see npm run data -- help)`);
  const values: Record<string, string> = {};
  let force = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--force') force = true;
    else if (arg === '--from' || arg === '--to') {
      const value = rest[++i];
      if (!value) throw new Error(`${arg} needs a value`);
      values[arg] = value;
    } else throw new Error(`unknown argument "${arg}" (see npm run data -- help)`);
  }
  const from = command === 'import' ? undefined : location(values['--from'] ?? env.SWITCHBOARD_DATA_DIR ?? DEFAULT_DATA_DIR);
  const toValue = values['--to'] ?? (command === 'copy' ? env.DATABASE_URL : undefined);
  if (command !== 'export' && !toValue) throw new Error(`${command} needs --to <postgres://… | data folder>`);
  if (command === 'export' && values['--to']) throw new Error('export writes to standard output: npm run data -- export > file.json');
  if (command === 'import' && values['--from']) throw new Error('import reads standard input: npm run data -- import --to … < file.json');
  const to = toValue ? location(toValue) : undefined;
  if (from && to && describe(from) === describe(to)) throw new Error('--from and --to name the same database');
  return { command, from, to, force };
}

function location(value: string): Location {
  return /^postgres(ql)?:\/\//i.test(value) ? { kind: 'postgres', url: value } : { kind: 'folder', dir: resolve(value) };
}

/** For messages: the folder, or the URL without its password. */
function describe(where: Location): string {
  if (where.kind === 'folder') return where.dir;
  const url = new URL(where.url);
  if (url.password) url.password = '***';
  return url.toString();
}

async function openLocation(where: Location, role: 'source' | 'target'): Promise<OpenedLocation> {
  if (where.kind === 'postgres') {
    // a source must exist; a target database is created when missing (as the services do at start)
    if (role === 'source') await checkConnects(where.url);
    return { target: { kind: 'postgres', url: where.url }, close: async () => undefined };
  }
  if (role === 'source' && !embeddedDatabaseExists(where.dir)) throw new Error(`there is no embedded database in ${where.dir}`);
  const embedded = await openEmbeddedDatabase(where.dir);
  return { target: embedded.target, close: () => embedded.close() };
}

async function checkConnects(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`cannot read ${describe({ kind: 'postgres', url })}: ${(error as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Opens each service's database (bringing it to this version's schema, as starting Switchboard would) and reads it. */
async function readAll(from: Location, services: readonly ServiceData[]): Promise<DataDump> {
  return withServices(from, 'source', services, async (opened) => {
    const dump: DataDump = { format: 'switchboard-data', version: 1, exported_at: new Date().toISOString(), services: {} };
    for (const [spec, dataSource] of opened) dump.services[spec.service] = await readService(dataSource, spec);
    return dump;
  });
}

/** Checks every service's tables first (nothing is written when one holds rows), then writes one transaction per service. */
async function writeAll(to: Location, services: readonly ServiceData[], dump: DataDump, force: boolean): Promise<void> {
  // a service the dump does not have is left alone, even with --force
  const present = services.filter((spec) => dump.services[spec.service]);
  await withServices(to, 'target', present, async (opened) => {
    if (!force) {
      const occupied: string[] = [];
      for (const [spec, dataSource] of opened) occupied.push(...occupiedTables(spec.service, await countRows(dataSource, spec)));
      if (occupied.length > 0) throw new TargetNotEmptyError(occupied);
    }
    for (const [spec, dataSource] of opened) {
      await writeService(dataSource, spec, dump.services[spec.service]!, { force });
    }
  });
}

async function withServices<T>(where: Location, role: 'source' | 'target', services: readonly ServiceData[], work: (opened: [ServiceData, DataSource][]) => Promise<T>): Promise<T> {
  const location = await openLocation(where, role);
  const opened: [ServiceData, DataSource][] = [];
  try {
    for (const spec of services) opened.push([spec, await spec.open(location.target)]);
    return await work(opened);
  } finally {
    for (const [, dataSource] of opened) await dataSource.destroy().catch(() => undefined);
    await location.close();
  }
}

function summary(dump: DataDump, headline: string): string {
  const lines = Object.entries(dump.services).flatMap(([service, { tables }]) => Object.entries(tables).map(([table, rows]) => `  ${service}.${table}: ${rows.length}`));
  return `${headline}\n${lines.join('\n')}\n`;
}

function parseDump(text: string): DataDump {
  // `npm run data -- export > file` puts npm's banner ("> switchboard@… data", "> node scripts/data.mjs export") first
  const banner = /^(?:\s*>[^\n]*\n|\s*\n)*/.exec(text)![0];
  let dump: DataDump;
  try {
    dump = JSON.parse(text.slice(banner.length)) as DataDump;
  } catch (error) {
    throw new Error(`standard input is not an export file (${(error as Error).message})`);
  }
  if (dump?.format !== 'switchboard-data' || dump.version !== 1 || typeof dump.services !== 'object') {
    throw new Error('standard input is not an export file of this version (format switchboard-data, version 1)');
  }
  return dump;
}

async function readStdin(stdin: DataCommandIo['stdin']): Promise<string> {
  if (stdin.isTTY) throw new Error('import reads the export file from standard input: npm run data -- import --to … < file.json');
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
