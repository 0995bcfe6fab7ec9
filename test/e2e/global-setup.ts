import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildUi, needsUiBuild } from '../../scripts/lib/build.mjs';

/** Builds dist/ once for the whole e2e run: the specs start the built services as separate processes. */
export default function setup(): void {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  const started = Date.now();
  const result = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  // tsc exits 2 when it found type errors but still emitted JavaScript (the typecheck reports those); 1 when it emitted nothing.
  if (result.status === 2) process.stderr.write('e2e: the build reported type errors; running against the JavaScript it emitted\n');
  else if (result.status !== 0) throw new Error(`the build failed (npx tsc -p tsconfig.build.json exited ${result.status ?? result.signal})`);
  // The admin UI (dist/ui) for ui.e2e.ts: only when its sources changed since its last build (about a second).
  if (needsUiBuild(root) && buildUi(root, { toStderr: true }) !== 0) throw new Error('the admin UI build failed (node scripts/build-ui.mjs)');
  if (process.env.DEBUG_E2E) process.stderr.write(`e2e: built in ${Date.now() - started} ms\n`);
}
