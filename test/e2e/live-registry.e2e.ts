import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MODES,
  connectClient,
  eventually,
  keyHeaders,
  printLogsOnFailure,
  startEverything,
  startSuite,
  textOf,
  toolNames,
  type HttpEverything,
  type Suite,
} from './support/index.js';

// Issue 2, done-means 4: a server added through the admin API is live on a new session within 2 s and gone
// again after DELETE, and clients already connected get notifications/tools/list_changed; an upstream that stops leaves the other servers' tools in the aggregate list.

describe.each(MODES)('%s', (mode) => {
  let suite: Suite | undefined;
  let httpUpstream: HttpEverything;
  let sseUpstream: HttpEverything;
  let extraUpstream: HttpEverything | undefined;
  const clients: Client[] = [];

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    httpUpstream = await startEverything('streamableHttp');
    sseUpstream = await startEverything('sse');
    suite = await startSuite({
      mode,
      config: {
        mcp_servers: {
          ev_http: { url: httpUpstream.url, transport: 'http' },
          ev_sse: { url: sseUpstream.url, transport: 'sse', timeout: 5 },
        },
      },
    });
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await suite?.stop();
    await Promise.allSettled([httpUpstream?.stop(), sseUpstream?.stop(), extraUpstream?.stop()]);
  });

  /** The tool names a brand-new session on /mcp lists. */
  async function freshList(): Promise<string[]> {
    const client = await connectClient(`${suite!.edgeUrls[0]}/mcp`, suite!.masterKey);
    try {
      return await toolNames(client);
    } finally {
      await client.close().catch(() => {});
    }
  }

  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${suite!.edgeUrls[0]}${path}`, {
      ...init,
      headers: { ...keyHeaders(suite!.masterKey), 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
    });

  describe('the live registry', () => {
    it('adds a server with POST /v1/mcp/server: a new session lists its tools within 2 s; DELETE removes it', async () => {
      await eventually(async () => (await freshList()).includes('ev_http-echo'), 20_000);
      extraUpstream = await startEverything('streamableHttp');
      // A client connected before the change hears about it on its GET stream, which the SDK opens after
      // initialize: wait until the edge has answered that GET.
      let streamOpened!: () => void;
      const streamOpen = new Promise<void>((resolve) => (streamOpened = resolve));
      const watcher = await connectClient(`${suite!.edgeUrls[0]}/mcp`, suite!.masterKey, {
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          if ((init?.method ?? 'GET') === 'GET' && response.ok) streamOpened();
          return response;
        },
      });
      clients.push(watcher);
      let listChanged = 0;
      watcher.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
        listChanged++;
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([streamOpen, new Promise((_, fail) => (timer = setTimeout(() => fail(new Error('the client opened no GET stream within 5 s')), 5000)))]);
      clearTimeout(timer);

      const created = await admin('/v1/mcp/server', { method: 'POST', body: JSON.stringify({ server_name: 'added', url: extraUpstream.url, transport: 'http' }) });
      const body = (await created.json()) as { server_id?: string };
      expect(created.status, JSON.stringify(body)).toBeLessThan(300);
      expect(body.server_id).toBeTruthy();
      const addedAt = Date.now();
      await eventually(async () => (await freshList()).includes('added-echo'), 2000, 50);
      const visibleAfter = Date.now() - addedAt;
      expect(visibleAfter).toBeLessThanOrEqual(2000);
      await eventually(() => listChanged > 0, 2000, 50);

      const client = await connectClient(`${suite!.edgeUrls[0]}/mcp`, suite!.masterKey);
      clients.push(client);
      expect(textOf(await client.callTool({ name: 'added-echo', arguments: { message: 'live' } }))).toBe('Echo: live');

      const deleted = await admin(`/v1/mcp/server/${body.server_id}`, { method: 'DELETE' });
      expect(deleted.status, await deleted.text()).toBeLessThan(300);
      const deletedAt = Date.now();
      await eventually(async () => !(await freshList()).some((n) => n.startsWith('added-')), 2000, 50);
      expect(Date.now() - deletedAt).toBeLessThanOrEqual(2000);
      const listed = await freshList();
      expect(listed).toContain('ev_http-echo');
    });

    it('keeps the other servers’ tools in the aggregate list when one upstream stops', async () => {
      await eventually(async () => {
        const names = await freshList();
        return names.includes('ev_http-echo') && names.includes('ev_sse-echo');
      }, 20_000);

      await sseUpstream.stop();

      // The list never fails as a whole: the stopped server is left out, the others stay.
      const names = await eventually(async () => {
        const listed = await freshList();
        return listed.includes('ev_http-echo') && listed;
      }, 15_000);
      expect(names).toEqual(expect.arrayContaining(['ev_http-echo', 'ev_http-get-sum']));

      const client = await connectClient(`${suite!.edgeUrls[0]}/mcp`, suite!.masterKey);
      clients.push(client);
      expect(textOf(await client.callTool({ name: 'ev_http-echo', arguments: { message: 'still here' } }))).toBe('Echo: still here');
    });
  });
});
