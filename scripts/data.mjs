#!/usr/bin/env node
// `npm run data -- copy|export|import …`: moves Switchboard's data (servers, keys, teams, organizations, audit log)
// between the embedded database (a data folder) and Postgres. Builds dist/ first when the sources are newer, like
// `npm start`, then runs the command from the built code (libs/database's runDataCommand).
//
//   npm run data -- copy --from .switchboard --to postgres://user@host/switchboard [--force]
//   npm run data -- export [--from .switchboard | postgres://…] > file.json
//   npm run data -- import --to postgres://… [--force] < file.json
//   npm run data -- rotate-salt-key [--database postgres://… | --data-dir DIR]   (re-encrypts upstream credentials)
//
// Exit code 0 on success; 1 after one line on stderr.
import 'reflect-metadata';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, needsBuild } from './lib/build.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// build notices are not prefixed: only the command's own outcome is a "switchboard data:" line
if (needsBuild(ROOT)) {
  process.stderr.write('building dist/ (tsc -p tsconfig.build.json) ...\n');
  // tsc exits 2 when it found type errors but still wrote the JavaScript; 1 when it wrote nothing
  const status = build(ROOT, { toStderr: true });
  if (status === 2) process.stderr.write('the build reported type errors (above); running the JavaScript it emitted\n');
  else if (status !== 0) {
    process.stderr.write('switchboard data: the build failed (see the compiler output above)\n');
    process.exit(1);
  }
}

const load = (path) => import(pathToFileURL(join(ROOT, 'dist', path)).href);

// Rotating the credentials' key is the registry's business (it owns the ciphertext).
if (process.argv[2] === 'rotate-salt-key') {
  const { runRotateSaltKey } = await load('services/registry/src/servers/salt-key-rotation.js');
  process.exitCode = await runRotateSaltKey(process.argv.slice(3), { stdout: process.stdout, stderr: process.stderr, env: process.env });
  process.exit();
}
const [{ runDataCommand }, { AUTH_DATA }, { REGISTRY_DATA }, { LLM_PROXY_DATA }] = await Promise.all([
  load('libs/database/src/index.js'),
  load('services/auth/src/database/auth-database.js'),
  load('services/registry/src/database.js'),
  load('services/llm-proxy/src/database.js'),
]);

process.exitCode = await runDataCommand(process.argv.slice(2), [AUTH_DATA, REGISTRY_DATA, LLM_PROXY_DATA], {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
