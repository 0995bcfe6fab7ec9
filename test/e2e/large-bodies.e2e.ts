import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MODES,
  connectClient,
  eventually,
  printLogsOnFailure,
  rawInitialize,
  rawPost,
  request,
  startEverything,
  startSuite,
  textOf,
  toolNames,
  type Suite,
} from './support/index.js';

// Issue 6, done-means 4: every body the edge accepts works on both buses (the NATS one cuts what exceeds the
// server's max_payload into parts); a body over the edge's limit is 413 naming the limit; neither leaves the
// gateway unable to serve the next call. server-everything's echo over stdio sends the arguments back.

const MiB = 1024 * 1024;
/** The edge's default MAX_REQUEST_BODY_BYTES. */
const LIMIT = 4 * MiB;

describe.each(MODES)('%s', (mode) => {
  let suite: Suite | undefined;
  const clients: Client[] = [];

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    const stdio = await startEverything('stdio');
    suite = await startSuite({ mode, config: { mcp_servers: { ev: { transport: 'stdio', command: stdio.command, args: stdio.args } } } });
    const c = await client();
    await eventually(async () => (await toolNames(c)).includes('ev-echo'), 20_000);
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await suite?.stop();
  });

  async function client(): Promise<Client> {
    const c = await connectClient(`${suite!.edgeUrls[0]}/mcp`, suite!.masterKey);
    clients.push(c);
    return c;
  }

  const mcp = () => `${suite!.edgeUrls[0]}/mcp`;

  it('a tools/call with 3.5 MiB of arguments round-trips through /mcp', async () => {
    const c = await client();
    // Not one repeated character: a body that only compresses or deduplicates well would prove less.
    const message = Array.from({ length: Math.ceil((3.5 * MiB) / 16) }, (_, i) => i.toString(16).padStart(16, '.')).join('').slice(0, 3.5 * MiB);
    const result = await c.callTool({ name: 'ev-echo', arguments: { message } }, undefined, { timeout: 30_000 });
    expect(result.isError ?? false, JSON.stringify(result).slice(0, 500)).toBe(false);
    const echoed = textOf(result);
    expect(echoed.length).toBe('Echo: '.length + message.length);
    expect(echoed === `Echo: ${message}`, 'the echoed text differs from what was sent').toBe(true);
  });

  it('a 5 MiB body gets HTTP 413 naming the limit', async () => {
    const { sessionId } = await rawInitialize(mcp(), suite!.masterKey);
    const big = request('tools/call', { name: 'ev-echo', arguments: { message: 'x'.repeat(5 * MiB) } });
    const reply = await rawPost(mcp(), big, { key: suite!.masterKey, sessionId, protocolVersion: '2025-11-25' });
    expect(reply.status, reply.text.slice(0, 500)).toBe(413);
    expect(reply.text).toContain(String(LIMIT));
  });

  it('still serves normal calls afterwards, on an existing session and on a new one', async () => {
    for (const c of [clients[0]!, await client()]) {
      const result = await c.callTool({ name: 'ev-echo', arguments: { message: 'small again' } });
      expect(textOf(result)).toBe('Echo: small again');
    }
  });
});
