#!/usr/bin/env node
// Builds the admin UI (ui/, Preact + Vite) into dist/ui/ and prints the size of every file it wrote, raw and gzipped.
//   node scripts/build-ui.mjs            (part of `npm run build`; `npm start` runs it when ui/ changed)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist/ui');

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

let vite;
try {
  vite = await import('vite');
} catch (error) {
  process.stderr.write(`ui: cannot build the admin UI, vite is not installed (${error.message}); run npm install\n`);
  process.exit(1);
}
const started = Date.now();
try {
  await vite.build({ configFile: join(ROOT, 'ui/vite.config.ts'), logLevel: 'warn' });
} catch (error) {
  process.stderr.write(`ui: the admin UI build failed: ${error.message}\n`);
  process.exit(1);
}
const files = filesUnder(OUT)
  .map((path) => {
    const bytes = statSync(path).size;
    return { name: relative(OUT, path), bytes, gzip: gzipSync(readFileSync(path), { level: 9 }).length };
  })
  .sort((a, b) => b.bytes - a.bytes);
const width = Math.max(...files.map((f) => f.name.length));
const lines = files.map((f) => `  ${f.name.padEnd(width)}  ${kb(f.bytes).padStart(10)}  ${kb(f.gzip).padStart(10)} gzip`);
const total = files.reduce((sum, f) => ({ bytes: sum.bytes + f.bytes, gzip: sum.gzip + f.gzip }), { bytes: 0, gzip: 0 });
process.stdout.write(
  `ui: built dist/ui in ${((Date.now() - started) / 1000).toFixed(1)} s\n${lines.join('\n')}\n` +
    `  ${'bundle total'.padEnd(width)}  ${kb(total.bytes).padStart(10)}  ${kb(total.gzip).padStart(10)} gzip\n`,
);
