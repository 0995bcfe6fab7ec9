import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The admin UI: a Preact single-page app served by the edge at /ui (same origin as the API). Everything it needs is
// bundled (no CDN, no web fonts); hashed file names let the edge cache assets for a year.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    modulePreload: { polyfill: false },
  },
});
