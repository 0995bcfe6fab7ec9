// Writes docs/nats-api.md from libs/contracts (the built code: `npm run docs:nats-api` builds first).
// `--check` exits 1 when the file differs instead of writing it. The unit spec
// libs/contracts/src/admin/nats-api-doc.spec.ts makes the same comparison in `npm test`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(ROOT, 'dist/libs/contracts/src/admin/nats-api-doc.js');
if (!existsSync(built)) {
  process.stderr.write(`${built} is missing: build first (npx tsc -p tsconfig.build.json)\n`);
  process.exit(2);
}
const { renderNatsApiDoc } = await import(pathToFileURL(built).href);
const target = join(ROOT, 'docs/nats-api.md');
const text = renderNatsApiDoc();
if (process.argv.includes('--check')) {
  const same = existsSync(target) && readFileSync(target, 'utf8') === text;
  process.stdout.write(same ? 'docs/nats-api.md is up to date\n' : 'docs/nats-api.md differs from libs/contracts: run npm run docs:nats-api\n');
  process.exit(same ? 0 : 1);
}
writeFileSync(target, text);
process.stdout.write('wrote docs/nats-api.md\n');
