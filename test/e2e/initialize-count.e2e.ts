import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectClient,
  eventually,
  printLogsOnFailure,
  startCountingServer,
  startSuite,
  textOf,
  toolNames,
  type CountingServer,
  type Suite,
} from './support/index.js';

// Issue 2, done-means 5: the connector keeps one pooled upstream session per server; in steady state a
// tools/call through the gateway causes no `initialize` at the upstream.

let suite: Suite | undefined;
let fixture: CountingServer;
const clients: Client[] = [];

printLogsOnFailure(() => suite);

beforeAll(async () => {
  fixture = await startCountingServer();
  suite = await startSuite({ config: { mcp_servers: { counting: { url: fixture.url, transport: 'http' } } } });
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await suite?.stop();
  await fixture?.stop();
});

describe('upstream sessions are pooled', () => {
  it('sends zero initialize per tools/call once warm', async () => {
    const client = await connectClient(`${suite!.edgeUrls[0]}/mcp`, suite!.masterKey);
    clients.push(client);
    await eventually(async () => (await toolNames(client)).includes('counting-echo'), 20_000);

    // Warm-up: the pooled session exists after the first call.
    for (let i = 0; i < 3; i++) await client.callTool({ name: 'counting-echo', arguments: { text: `warm ${i}` } });
    const before = await fixture.stats();

    const N = 50;
    for (let i = 0; i < N; i++) {
      const result = await client.callTool({ name: 'counting-echo', arguments: { text: `call ${i}` } });
      expect(result.isError ?? false).toBe(false);
      expect(textOf(result)).toContain(`call ${i}`);
    }
    // Concurrent calls from several client sessions must share the pooled upstream session too.
    const more = await Promise.all(Array.from({ length: 3 }, () => connectClient(`${suite!.edgeUrls[0]}/mcp`, suite!.masterKey)));
    clients.push(...more);
    await Promise.all(more.flatMap((c, j) => Array.from({ length: 10 }, (_, i) => c.callTool({ name: 'counting-echo', arguments: { text: `c${j}-${i}` } }))));

    const after = await fixture.stats();
    expect(after.toolsCall - before.toolsCall).toBe(N + 30);
    expect(after.initialize - before.initialize).toBe(0);
  });
});
