import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const START = join(resolve(dirname(fileURLToPath(import.meta.url))), 'start.mjs');

function run(env: Record<string, string>, args: string[] = []) {
  return spawnSync(process.execPath, [START, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 15_000 });
}

describe('npm start (scripts/start.mjs) refuses to start', () => {
  let busy: Server | undefined;
  afterEach(() => busy?.close());

  it('when the edge’s port is taken, naming the port', async () => {
    busy = createServer();
    const port = await new Promise<number>((done) => busy!.listen(0, () => done((busy!.address() as { port: number }).port)));
    const sut = run({ PORT: String(port) });
    expect(sut.status).toBe(1);
    expect(sut.stderr).toContain(`port ${port} is already in use`);
  });

  it('when the config file does not exist', () => {
    const sut = run({}, ['--config', '/nonexistent/switchboard.yaml']);
    expect(sut.status).toBe(1);
    expect(sut.stderr).toContain('/nonexistent/switchboard.yaml does not exist');
  });

  it('when PORT is not a port', () => {
    const sut = run({ PORT: 'eighty' });
    expect(sut.status).toBe(1);
    expect(sut.stderr).toContain('PORT must be a port number');
  });
});
