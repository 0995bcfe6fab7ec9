import { spawn } from 'node:child_process';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConformanceServer, type ConformanceServer } from '../fixtures/conformance-server.js';
import { eventually, printLogsOnFailure, rawInitialize, rawPost, request, startSuite, type Suite } from '../e2e/support/index.js';

// Issue 8, done-means 1: the official MCP conformance suite, pinned, against the gateway's /mcp/{fixture} and
// against the fixture directly (so the fixture is honest). The suite cannot send headers: a small proxy in front
// of the gateway adds the key and passes Host and Origin through untouched (the DNS-rebinding scenario forges them).

const ROOT = join(import.meta.dirname, '../..');
const SUITE_BIN = join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');

let fixture: ConformanceServer;
let suite: Suite | undefined;
let proxy: http.Server | undefined;

printLogsOnFailure(() => suite);

/** Runs the suite on Node 22 (it imports globSync from fs); resolves with its output and exit code. */
function runConformance(url: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['-y', '-p', 'node@22', '--', 'node', SUITE_BIN, 'server', '--url', url, '--requirements', '2025-11-25'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

function totals(output: string): { passed: number; failed: number } {
  const match = /Total: (\d+) passed, (\d+) failed/.exec(output);
  if (!match) throw new Error(`no "Total:" line in the suite's output:\n${output.slice(-3000)}`);
  return { passed: Number(match[1]), failed: Number(match[2]) };
}

/** Forwards everything to `target`, adding the gateway key; Host and Origin go through as the client sent them. */
async function startKeyProxy(target: URL, key: string): Promise<string> {
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, 'x-litellm-api-key': `Bearer ${key}` } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy = server;
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  fixture = await startConformanceServer();
  suite = await startSuite({ mode: 'one-process', config: { mcp_servers: { conformance: { url: fixture.url, transport: 'http' } } } });
});

afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise((resolve) => (proxy ? proxy.close(resolve) : resolve(undefined)));
  await suite?.stop();
  await fixture?.close();
});

describe('the MCP conformance suite (2025-11-25 requirements)', () => {
  it('passes against the fixture directly', async () => {
    const { code, output } = await runConformance(fixture.url);
    const { passed, failed } = totals(output);
    process.stdout.write(`conformance, fixture directly: Total: ${passed} passed, ${failed} failed\n`);
    expect(failed, output.slice(-4000)).toBe(0);
    expect(passed).toBeGreaterThan(50);
    expect(code).toBe(0);
  });

  it('passes against the gateway on /mcp/{server}', async () => {
    const edge = suite!.edgeUrls[0]!;
    // the catalog lists the fixture once the registry has fetched it
    const { sessionId } = await rawInitialize(`${edge}/mcp/conformance`, suite!.masterKey);
    await eventually(async () => {
      const reply = await rawPost(`${edge}/mcp/conformance`, request('prompts/list'), { key: suite!.masterKey, sessionId, protocolVersion: '2025-11-25' });
      return (reply.message?.result?.prompts ?? []).length > 0;
    }, 30_000);
    const base = await startKeyProxy(new URL(edge), suite!.masterKey);
    const { code, output } = await runConformance(`${base}/mcp/conformance`);
    const { passed, failed } = totals(output);
    process.stdout.write(`conformance, through the gateway: Total: ${passed} passed, ${failed} failed\n`);
    expect(failed, output.slice(-6000)).toBe(0);
    expect(passed).toBeGreaterThan(50);
    expect(code).toBe(0);
  });
});
