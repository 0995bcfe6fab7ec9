// Builds dist/ with `tsc -p tsconfig.build.json` (incremental) when the sources are newer than the last build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const SOURCE_DIRS = ['services', 'libs', 'test/fixtures'];
const BUILD_INFO = 'dist/.tsbuildinfo.build';

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
export function needsBuild(root) {
  const info = join(root, BUILD_INFO);
  if (!existsSync(join(root, 'dist')) || !existsSync(info)) return true;
  const since = statSync(info).mtimeMs;
  return SOURCE_DIRS.some((dir) => newestTs(join(root, dir), since));
}

/**
 * Runs the TypeScript compiler of this repository; returns its exit code. Output goes to this terminal: its
 * standard output, or standard error with `{ toStderr: true }` (for commands whose stdout is data).
 */
export function build(root, { toStderr = false } = {}) {
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: ['inherit', toStderr ? 2 : 'inherit', 'inherit'] });
  return result.status ?? 1;
}
