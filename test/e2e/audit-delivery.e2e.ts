import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, generateKey, printLogsOnFailure, startCountingServer, startSuite, textOf, waitForAudit, type CountingServer, type Suite } from './support/index.js';

// Audit records of tool calls made while no auth replica is up (a restart, a rollout) are kept by the edge and
// stored once auth is back: nothing is lost, nothing stored twice. The calls themselves work meanwhile, with the
// key the edge verified before.

describe('audit records while auth is down (distributed)', () => {
  let suite: Suite | undefined;
  let upstream: CountingServer;
  let client: Client | undefined;

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    upstream = await startCountingServer();
    suite = await startSuite({ config: { mcp_servers: { counted: { url: upstream.url, transport: 'http', allow_all_keys: true } } } });
  }, 180_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await suite?.stop();
    await upstream?.stop();
  });

  it('are kept by the edge and stored once auth is back', async () => {
    const { key, key_alias } = await generateKey(suite!, { key_alias: 'audited-while-auth-down' });
    client = await connectClient(`${suite!.edgeUrls[0]}/mcp`, key);
    expect(textOf(await client.callTool({ name: 'counted-echo', arguments: { text: 'before' } }))).toBe('before');
    await waitForAudit(suite!, { key_alias: key_alias! }, (rows) => rows.length === 1, 10_000);

    await suite!.stopService('auth');
    for (const text of ['during-1', 'during-2', 'during-3']) {
      expect(textOf(await client.callTool({ name: 'counted-echo', arguments: { text } }))).toBe(text);
    }
    await suite!.startService('auth');

    const rows = await waitForAudit(suite!, { key_alias: key_alias! }, (found) => found.length >= 4, 30_000);
    expect(rows).toHaveLength(4);
    expect(rows.every((r: { status: string; tool: string }) => r.status === 'success' && r.tool === 'echo')).toBe(true);
  });
});
