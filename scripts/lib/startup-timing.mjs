// Start-up time of the one-process default, for `npm run bench`: from spawning the process (already built) to its
// first tools/list that shows the expected tool, on a new data folder and again on the same (existing) folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { writeFileSync } from 'node:fs';
import { freePort, ROOT, spawnNode } from './suite.mjs';

const MAIN = join(ROOT, 'dist/services/one-process/src/main.js');

/** POSTs one JSON-RPC message; resolves with the parsed reply (JSON or SSE-framed) and the session header. */
async function rpc(url, key, message, sessionId) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'x-litellm-api-key': `Bearer ${key}`,
      ...(sessionId ? { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' } : {}),
    },
    body: JSON.stringify(message),
    signal: AbortSignal.timeout(2000),
  });
  const text = await response.text();
  const data = text.startsWith('{') ? text : text.split('\n').find((line) => line.startsWith('data:'))?.slice(5) ?? '';
  return { status: response.status, sessionId: response.headers.get('mcp-session-id'), reply: data ? JSON.parse(data) : undefined };
}

/** Polls until a tools/list on `url` lists `tool`; returns the elapsed ms since `since`. */
async function untilListed(url, key, tool, since, proc, timeoutMs) {
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`the one-process default exited during start-up:\n${proc.output.slice(-30).join('\n')}`);
    if (Date.now() - since > timeoutMs) throw new Error(`no tools/list with ${tool} within ${timeoutMs} ms`);
    try {
      const init = await rpc(url, key, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench-start', version: '1' } } });
      if (init.status === 200 && init.sessionId) {
        const list = await rpc(url, key, { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }, init.sessionId);
        if (list.reply?.result?.tools?.some((t) => t.name === tool)) return Date.now() - since;
      }
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Starts the one-process default twice on one data folder (new, then existing) and returns both start-up times in
 * ms. `config` is the gateway config; `tool` the aggregated tool name that proves the catalog is ready.
 */
export async function measureOneProcessStart({ config, masterKey, tool, timeoutMs = 60_000 }) {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-start-'));
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, toYaml(config));
  const env = { ...process.env };
  for (const name of ['NATS_URL', 'DATABASE_URL', 'REDIS_URL']) delete env[name];
  const times = {};
  try {
    for (const run of ['newFolder', 'existingFolder']) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}/mcp`;
      const since = Date.now();
      const proc = spawnNode(`one-process (${run})`, MAIN, ['--config', configPath], {
        env: { ...env, PORT: String(port), MASTER_KEY: masterKey, SWITCHBOARD_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn' },
      });
      try {
        times[run] = await untilListed(url, masterKey, tool, since, proc, timeoutMs);
      } finally {
        await proc.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return times;
}
