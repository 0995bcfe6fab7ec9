import { Controller, Get, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { existsSync, statSync } from 'node:fs';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DomainError } from '#libs/contracts';

/** The repository (or image) root: the first folder above this file holding package.json. */
function findRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return from;
    dir = up;
  }
  return dir;
}

/** Where `npm run build` writes the admin UI (Vite's output: index.html and hashed files under assets/). */
export const UI_DIR = join(findRoot(dirname(fileURLToPath(import.meta.url))), 'dist', 'ui');

/**
 * Everything the page may load comes from this origin: nothing external at run time, no inline script, no framing.
 * The API it calls is this same origin.
 */
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/**
 * The admin web UI at /ui, same origin as the API. Files under assets/ carry a content hash in their name and are
 * cached for a year; index.html is revalidated every time (so a new build is picked up at once). Any other path
 * under /ui without a file extension is a client route: it gets index.html (the app routes in the browser).
 * The UI holds no secret and calls only the public REST API with the key the user signs in with.
 */
@Controller('ui')
export class UiController {
  @Get()
  index(@Res() res: Response) {
    this.send(res, 'index.html');
  }

  @Get('*path')
  file(@Req() req: Request, @Res() res: Response) {
    const path = decodeURIComponent(req.path.replace(/^\/ui\/?/, ''));
    const relative = normalize(path).replace(/^(\.\.(\/|\\|$))+/, '');
    if (relative.split(sep).some((part) => part.startsWith('.'))) throw notFound(path);
    const file = join(UI_DIR, relative);
    if (file.startsWith(UI_DIR + sep) && existsSync(file) && statSync(file).isFile()) return this.send(res, relative);
    // A missing asset is a 404; a client route (no extension) is the app's own page.
    if (extname(relative) || relative.startsWith(`assets${sep}`)) throw notFound(path);
    this.send(res, 'index.html');
  }

  private send(res: Response, relative: string): void {
    if (!existsSync(join(UI_DIR, 'index.html'))) {
      throw new DomainError('NOT_FOUND', 'the admin UI is not built: run `npm run build` (npm start builds it when its sources change)');
    }
    const immutable = relative.startsWith(`assets${sep}`);
    res.set({ ...SECURITY_HEADERS, 'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache' });
    res.sendFile(relative, { root: UI_DIR, dotfiles: 'deny', lastModified: !immutable, etag: true }, (error) => {
      if (error && !res.headersSent) res.status(404).json({ error: { message: `no such file in the admin UI: ${relative}`, type: 'not_found', code: '404' } });
    });
  }
}

function notFound(path: string): DomainError {
  return new DomainError('NOT_FOUND', `no such file in the admin UI: ${path}`);
}
