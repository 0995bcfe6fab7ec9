import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DatabaseTarget } from '#libs/database';
import { resolveSaltKey, SaltKeyMissingError } from './salt-key.js';

const folders: string[] = [];
afterEach(() => folders.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** An embedded target as resolveSaltKey sees it: only its data folder matters. */
function embeddedTarget(): { target: DatabaseTarget; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'salt-key-'));
  folders.push(dir);
  return { dir, target: { kind: 'pglite', database: { dataDir: dir } } as unknown as DatabaseTarget };
}

describe('resolveSaltKey', () => {
  it('takes SWITCHBOARD_SALT_KEY whatever the database', () => {
    expect(resolveSaltKey('configured', { kind: 'postgres', url: 'postgres://x/y' })).toEqual({ material: 'configured', source: 'SWITCHBOARD_SALT_KEY' });
    expect(resolveSaltKey('configured', embeddedTarget().target).material).toBe('configured');
  });

  it('requires it with Postgres, saying why, instead of falling back to the master key', () => {
    expect(() => resolveSaltKey(undefined, { kind: 'postgres', url: 'postgres://x/y' })).toThrow(SaltKeyMissingError);
    expect(() => resolveSaltKey(undefined, { kind: 'postgres', url: 'postgres://x/y' })).toThrow(/SWITCHBOARD_SALT_KEY must be set when the database is Postgres/);
  });

  it('generates one in a new data folder, readable by its owner only, and reads the same one afterwards', () => {
    const { dir, target } = embeddedTarget();
    const first = resolveSaltKey(undefined, target);
    expect(first.source).toBe('data folder (generated now)');
    expect(first.material.length).toBeGreaterThanOrEqual(40);
    expect(readFileSync(join(dir, 'salt.key'), 'utf8').trim()).toBe(first.material);
    expect(statSync(join(dir, 'salt.key')).mode & 0o777).toBe(0o600);
    const again = resolveSaltKey(undefined, target);
    expect(again).toMatchObject({ material: first.material, source: 'data folder' });
  });

  it('refuses an empty salt.key rather than generating a new one over lost data', () => {
    const { dir, target } = embeddedTarget();
    writeFileSync(join(dir, 'salt.key'), '\n');
    expect(() => resolveSaltKey(undefined, target)).toThrow(/empty/);
  });
});
