// Builds dist/ with `tsc -p tsconfig.build.json` (incremental) when the sources are newer than the last build, and the
// admin UI (ui/, Vite) into dist/ui/ when its sources are newer than its last build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const SOURCE_DIRS = ['services', 'libs', 'test/fixtures'];
const BUILD_INFO = 'dist/.tsbuildinfo.build';
const UI_SOURCES = 'ui';
const UI_BUILT = 'dist/ui/index.html';

function newestTs(dir, since) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  for (const entry of entries) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (newestTs(path, since)) return true;
    } else if (entry.name.endsWith('.ts') && statSync(path).mtimeMs > since) {
      return true;
    }
  }
  return false;
}

/** True when dist/ is missing or any .ts under services/, libs/ or test/fixtures/ is newer than the last build. */
export function needsTsBuild(root) {
  const info = join(root, BUILD_INFO);
  if (!existsSync(join(root, 'dist')) || !existsSync(info)) return true;
  const since = statSync(info).mtimeMs;
  return SOURCE_DIRS.some((dir) => newestTs(join(root, dir), since));
}

/** Any file under `dir` (node_modules and dot-files aside) modified after `since`. */
function newerFile(dir, since) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  return entries.some((entry) => {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) return false;
    const path = join(dir, entry.name);
    return entry.isDirectory() ? newerFile(path, since) : statSync(path).mtimeMs > since;
  });
}

/**
 * True when the repository has the admin UI's sources (ui/) and dist/ui/index.html is missing or older than any of
 * them (or than package-lock.json: a new Preact or Vite).
 */
export function needsUiBuild(root) {
  if (!existsSync(join(root, UI_SOURCES))) return false;
  const built = join(root, UI_BUILT);
  if (!existsSync(built)) return true;
  const since = statSync(built).mtimeMs;
  const lock = join(root, 'package-lock.json');
  return newerFile(join(root, UI_SOURCES), since) || (existsSync(lock) && statSync(lock).mtimeMs > since);
}

/** True when the services or the admin UI need building. */
export function needsBuild(root) {
  return needsTsBuild(root) || needsUiBuild(root);
}

/**
 * Builds what is out of date: the services with the TypeScript compiler of this repository (returns its exit code),
 * then the admin UI when its sources changed (a UI that fails to build is reported and does not stop the gateway:
 * /ui then says it is not built). Output goes to this terminal: its standard output, or standard error with
 * `{ toStderr: true }` (for commands whose stdout is data).
 */
export function build(root, { toStderr = false } = {}) {
  const stdio = ['inherit', toStderr ? 2 : 'inherit', 'inherit'];
  let status = 0;
  if (needsTsBuild(root)) {
    const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
    status = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio }).status ?? 1;
  }
  if (needsUiBuild(root) && buildUi(root, { toStderr }) !== 0) {
    process.stderr.write('ui: the admin UI was not built (see above); the gateway runs without it\n');
  }
  return status;
}

/** Builds the admin UI into dist/ui/ (scripts/build-ui.mjs, which prints the bundle size); returns its exit code. */
export function buildUi(root, { toStderr = false } = {}) {
  const result = spawnSync(process.execPath, [join(root, 'scripts/build-ui.mjs')], { cwd: root, stdio: ['inherit', toStderr ? 2 : 'inherit', 'inherit'] });
  return result.status ?? 1;
}
