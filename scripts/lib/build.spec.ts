import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { needsBuild, needsUiBuild } from './build.mjs';

describe('needsBuild', () => {
  let root: string;
  const touch = (path: string, secondsAgo: number) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), '');
    const when = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(join(root, path), when, when);
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'needs-build-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is true without dist/ or its build info', () => {
    touch('services/edge/src/main.ts', 100);
    expect(needsBuild(root)).toBe(true);
    mkdirSync(join(root, 'dist'));
    expect(needsBuild(root)).toBe(true);
  });

  it('is false when every source is older than the last build', () => {
    touch('services/edge/src/main.ts', 100);
    touch('libs/bus/src/index.ts', 100);
    touch('dist/.tsbuildinfo.build', 10);
    expect(needsBuild(root)).toBe(false);
  });

  it('is true when a .ts under services/, libs/ or test/fixtures/ changed since', () => {
    for (const path of ['services/edge/src/main.ts', 'libs/bus/src/index.ts', 'test/fixtures/counting-server.ts']) {
      touch('dist/.tsbuildinfo.build', 10);
      touch(path, 1);
      expect(needsBuild(root), path).toBe(true);
      touch(path, 100);
    }
  });

  it('ignores files that are not TypeScript and other folders', () => {
    touch('dist/.tsbuildinfo.build', 10);
    touch('services/edge/README.md', 1);
    touch('test/e2e/aggregate.e2e.ts', 1);
    expect(needsBuild(root)).toBe(false);
  });
});

describe('needsUiBuild', () => {
  let root: string;
  const touch = (path: string, secondsAgo: number) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), '');
    const when = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(join(root, path), when, when);
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'needs-ui-build-'));
    touch('services/edge/src/main.ts', 100);
    touch('dist/.tsbuildinfo.build', 50);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is false without ui/ sources (nothing to build)', () => {
    expect(needsUiBuild(root)).toBe(false);
    expect(needsBuild(root)).toBe(false);
  });

  it('is true when ui/ exists and dist/ui was never built', () => {
    touch('ui/src/main.tsx', 100);
    expect(needsUiBuild(root)).toBe(true);
    expect(needsBuild(root)).toBe(true);
  });

  it('follows any file under ui/ (styles and html too) and package-lock.json, not node_modules', () => {
    touch('ui/src/main.tsx', 100);
    touch('ui/index.html', 100);
    touch('package-lock.json', 100);
    touch('dist/ui/index.html', 10);
    expect(needsUiBuild(root)).toBe(false);
    touch('ui/node_modules/x/index.js', 1);
    expect(needsUiBuild(root)).toBe(false);
    for (const path of ['ui/src/styles.css', 'ui/index.html', 'package-lock.json']) {
      touch(path, 1);
      expect(needsUiBuild(root), path).toBe(true);
      expect(needsBuild(root), path).toBe(true);
      touch(path, 100);
    }
  });
});
