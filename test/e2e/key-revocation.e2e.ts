import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  generateKey,
  printLogsOnFailure,
  rawInitialize,
  rawPost,
  request,
  startCountingServer,
  startSuite,
  type CountingServer,
  type Suite,
} from './support/index.js';

// Issue 3, done-means 3: each edge caches key verification; a key deleted, blocked or expired through one edge
// gets 401 from the other edge within 1 s (the cache is invalidated by events, expiry is checked by the edge).

let suite: Suite | undefined;
let fixture: CountingServer;

printLogsOnFailure(() => suite);

const POLL_MS = 50;
const LIMIT_MS = 1000;

beforeAll(async () => {
  fixture = await startCountingServer();
  suite = await startSuite({ edges: 2, config: { mcp_servers: { counting: { url: fixture.url, transport: 'http' } } } });
});

afterAll(async () => {
  await suite?.stop();
  await fixture?.stop();
});

interface EdgeSession {
  url: string;
  sessionId: string;
}

/** One tools/call of counting-echo in an open session; returns the HTTP status (200 with the echo, or the refusal). */
async function echo(session: EdgeSession, key: string): Promise<number> {
  const reply = await rawPost(session.url, request('tools/call', { name: 'counting-echo', arguments: { text: 'ping' } }), {
    key,
    sessionId: session.sessionId,
    protocolVersion: '2025-11-25',
  });
  if (reply.status === 200) expect(reply.message?.result?.content?.[0]?.text, reply.text).toBe('ping');
  return reply.status;
}

/** A key that may use the fixture, with one session on each edge, each having served a call (so both edges cache it). */
async function keyInUseOnBothEdges(fields: Record<string, unknown> = {}): Promise<{ key: string; a: EdgeSession; b: EdgeSession }> {
  const { key } = await generateKey(suite!, { object_permission: { mcp_servers: ['counting'] }, ...fields });
  const [urlA, urlB] = suite!.edgeUrls.map((u) => `${u}/mcp`) as [string, string];
  const a = { url: urlA, sessionId: (await rawInitialize(urlA, key)).sessionId };
  const b = { url: urlB, sessionId: (await rawInitialize(urlB, key)).sessionId };
  // The catalog may still be loading right after start-up: wait for the first successful call on each edge.
  for (const session of [a, b]) {
    const started = Date.now();
    while ((await echo(session, key)) !== 200) {
      if (Date.now() - started > 20_000) throw new Error(`counting-echo never succeeded on ${session.url}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  expect(await echo(a, key)).toBe(200);
  expect(await echo(b, key)).toBe(200);
  return { key, a, b };
}

/** Polls `session` every POLL_MS until it answers 401; returns ms from `since`. Gives up after 5 s. */
async function msUntil401(session: EdgeSession, key: string, since: number): Promise<number> {
  const statuses: number[] = [];
  for (;;) {
    const status = await echo(session, key);
    if (status === 401) return Date.now() - since;
    statuses.push(status);
    if (Date.now() - since > 5_000) throw new Error(`no 401 within 5 s; statuses seen: ${statuses.join(',')}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

describe('a revoked key is refused on every edge within 1 s', () => {
  it('deleted through edge A: edge B answers 401 within 1 s', async () => {
    const { key, a, b } = await keyInUseOnBothEdges();
    const started = Date.now();
    await api(suite!.edgeUrls[0]!, suite!.masterKey, '/key/delete', { keys: [key] });
    const deleteMs = Date.now() - started;
    const ms = await msUntil401(b, key, started);
    process.stderr.write(`key-revocation: deleted on edge A → 401 on edge B after ${ms} ms (the delete call itself took ${deleteMs} ms)\n`);
    expect(ms).toBeLessThan(LIMIT_MS);
    expect(await echo(a, key)).toBe(401);
    // A new session with the deleted key is refused as well.
    await expect(rawInitialize(b.url, key)).rejects.toThrow(/answered 401/);
  });

  it('blocked through edge A: edge B answers 401 within 1 s', async () => {
    const { key, a, b } = await keyInUseOnBothEdges();
    const started = Date.now();
    await api(suite!.edgeUrls[0]!, suite!.masterKey, '/key/update', { key, blocked: true });
    const ms = await msUntil401(b, key, started);
    process.stderr.write(`key-revocation: blocked on edge A → 401 on edge B after ${ms} ms\n`);
    expect(ms).toBeLessThan(LIMIT_MS);
    expect(await echo(a, key)).toBe(401);
  });

  it('a key generated with duration "2s" gets 401 on both edges once it has expired', async () => {
    const { key, a, b } = await keyInUseOnBothEdges({ duration: '2s' });
    const info = await api(suite!.edgeUrls[0]!, suite!.masterKey, `/key/info?key=${encodeURIComponent(key)}`);
    const expires = Date.parse(info.info.expires);
    expect(Number.isFinite(expires)).toBe(true);
    expect(Date.now()).toBeLessThan(expires); // still valid: the calls above succeeded before expiry
    const msB = await msUntil401(b, key, expires);
    const msA = await msUntil401(a, key, expires);
    process.stderr.write(`key-revocation: expired key → 401 on edge B ${msB} ms and on edge A ${msA} ms after its expiry time\n`);
    expect(msB).toBeLessThan(LIMIT_MS);
    expect(msA).toBeLessThan(LIMIT_MS);
  });
});
