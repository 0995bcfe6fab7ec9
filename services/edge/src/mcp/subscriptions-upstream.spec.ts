import { afterEach, describe, expect, it } from 'vitest';
import { InProcessBus, type ServeContext } from '#libs/bus';
import { DomainError, instanceUpstreamRequest, SessionEnded, sessionStreamEvent, UpstreamRequest, type CatalogServer, type RequestOf } from '#libs/contracts';
import { waitFor } from '#libs/testing';
import { ResourceWatches } from './subscriptions-upstream.js';

const server = (name: string): CatalogServer => ({
  server_id: `id-${name}`,
  server_name: name,
  description: null,
  access_groups: [],
  allow_all_keys: true,
  allowed_tools: null,
  disallowed_tools: null,
  extra_headers: [],
  status: 'healthy',
  error: null,
  checked_at: new Date(0).toISOString(),
  tools: [],
  capabilities: { resources: { subscribe: true } },
});

const updated = (uri: string) => ({ jsonrpc: '2.0' as const, method: 'notifications/resources/updated', params: { uri } });

/**
 * A connector instance as the watches see it over the bus: per-client upstream sessions by session id, each with
 * the URIs it subscribed; it answers on the queue group and on its own subject, and closes a session on SessionEnded.
 */
class FakeConnector {
  readonly sessions = new Map<string, Set<string>>();
  readonly requests: { session: string; method: string; uri: string; headers?: Record<string, string> }[] = [];
  /** Sent on the call in flight before replying (an upstream notification arriving during the call). */
  streamDuringCall: unknown;
  private readonly stops: (() => void)[];

  constructor(
    private readonly bus: InProcessBus,
    readonly instance: string,
  ) {
    const handle = async (data: unknown, ctx: ServeContext) => {
      const req = data as RequestOf<typeof UpstreamRequest>;
      const uri = String(req.params?.uri);
      const session = req.client!.session_id;
      this.requests.push({ session, method: req.method, uri, ...(req.forward_headers ? { headers: req.forward_headers } : {}) });
      if (uri.startsWith('missing://')) throw new DomainError('NOT_FOUND', `Resource not found: ${uri}`, { jsonrpc_code: -32002 });
      let uris = this.sessions.get(session);
      if (!uris) this.sessions.set(session, (uris = new Set()));
      if (req.method === 'resources/subscribe') uris.add(uri);
      else uris.delete(uri);
      if (this.streamDuringCall) ctx.send({ message: this.streamDuringCall });
      return { result: {}, instance: this.instance };
    };
    this.stops = [
      bus.serve(UpstreamRequest, 'connectors', handle),
      bus.serve(instanceUpstreamRequest(instance), `connector-${instance}`, handle),
      bus.subscribe(SessionEnded, ({ session_id }) => void this.sessions.delete(session_id)),
    ];
  }

  /** The upstream changed a resource: every session subscribed to it is told. */
  update(uri: string): void {
    for (const [session, uris] of this.sessions) {
      if (uris.has(uri)) this.bus.publish(sessionStreamEvent(session), { message: JSON.stringify(updated(uri)) });
    }
  }

  subscribed(): string[] {
    return [...this.sessions.values()].flatMap((uris) => [...uris]).sort();
  }

  stop(): void {
    for (const stop of this.stops) stop();
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function setup(refreshMs = 60_000) {
  const bus = new InProcessBus();
  const ended: string[] = [];
  bus.subscribe(SessionEnded, ({ session_id }) => void ended.push(session_id));
  const watches = new ResourceWatches(bus, 'edge1', refreshMs);
  watches.start();
  cleanups.push(() => bus.close(), () => watches.stop());
  return { bus, watches, ended };
}

describe('ResourceWatches', () => {
  it('subscribes a URI once for all its listeners, tells each of its updates, and lets go of it with the last', async () => {
    const { bus, watches, ended } = setup();
    const connector = new FakeConnector(bus, 'c1');
    const seen: string[] = [];
    const one = await watches.watch(server('a'), 'file:///x', undefined, (p) => void seen.push(`one ${String(p.uri)}`));
    const two = await watches.watch(server('a'), 'file:///x', undefined, (p) => void seen.push(`two ${String(p.uri)}`));
    const other = await watches.watch(server('a'), 'file:///y', undefined, (p) => void seen.push(`other ${String(p.uri)}`));
    expect([one.subscribed, two.subscribed, other.subscribed]).toEqual([true, true, true]);
    expect(connector.requests.map((r) => `${r.method} ${r.uri}`)).toEqual(['resources/subscribe file:///x', 'resources/subscribe file:///y']);
    expect(new Set(connector.requests.map((r) => r.session)).size).toBe(1); // one upstream session per server
    expect(watches.size).toBe(1);

    connector.update('file:///x');
    await waitFor(() => seen.length === 2, 2000);
    expect(seen.sort()).toEqual(['one file:///x', 'two file:///x']);

    one.release();
    two.release();
    await waitFor(() => connector.subscribed().join() === 'file:///y', 2000);
    expect(ended).toEqual([]);
    other.release();
    await waitFor(() => ended.length === 1, 2000);
    expect(connector.requests.at(-1)).toMatchObject({ method: 'resources/unsubscribe', uri: 'file:///y' }); // told before the session ends
    expect(watches.size).toBe(0);
    expect(connector.sessions.size).toBe(0); // the connector closed the watch's upstream session
  });

  it('says so when the upstream refuses a URI, and keeps nothing for it', async () => {
    const { bus, watches, ended } = setup();
    new FakeConnector(bus, 'c1');
    const refused = await watches.watch(server('a'), 'missing://nope', undefined, () => undefined);
    expect(refused.subscribed).toBe(false);
    await waitFor(() => ended.length === 1, 2000);
    expect(watches.size).toBe(0);
  });

  it('delivers an update that arrives while a subscribe is in flight (streamed on the call)', async () => {
    const { bus, watches } = setup();
    const connector = new FakeConnector(bus, 'c1');
    const seen: unknown[] = [];
    await watches.watch(server('a'), 'file:///x', undefined, (p) => void seen.push(p));
    connector.streamDuringCall = updated('file:///x');
    await watches.watch(server('a'), 'file:///y', undefined, () => undefined);
    expect(seen).toEqual([{ uri: 'file:///x' }]);
  });

  it('keeps one upstream session per set of forwarded credentials', async () => {
    const { bus, watches } = setup();
    const connector = new FakeConnector(bus, 'c1');
    await watches.watch(server('a'), 'file:///x', undefined, () => undefined);
    await watches.watch(server('a'), 'file:///x', { authorization: 'Bearer alice' }, () => undefined);
    await watches.watch(server('a'), 'file:///y', { authorization: 'Bearer alice' }, () => undefined);
    expect(watches.size).toBe(2);
    expect(connector.requests.map((r) => r.headers?.authorization ?? null)).toEqual([null, 'Bearer alice', 'Bearer alice']);
  });

  it('subscribes again while listeners exist, and moves every URI to another connector when its own is gone, announcing each as updated once', async () => {
    const { bus, watches } = setup(30);
    const first = new FakeConnector(bus, 'c1');
    const announced: string[] = [];
    await watches.watch(server('a'), 'file:///x', undefined, (p) => void announced.push(String(p.uri)));
    await watches.watch(server('a'), 'file:///y', undefined, () => undefined);
    await waitFor(() => first.requests.length >= 4, 2000); // the periodic refresh, on the instance that holds the session
    expect(announced).toEqual([]); // refreshes on the same session announce nothing
    first.stop();
    const second = new FakeConnector(bus, 'c2');
    await waitFor(() => second.subscribed().join() === 'file:///x,file:///y', 2000);
    // x may have changed while nobody watched it upstream: its listener hears so once
    await waitFor(() => announced.length === 1, 2000);
    expect(announced).toEqual(['file:///x']);
    await waitFor(() => second.requests.length >= 4, 2000);
    expect(announced).toEqual(['file:///x']);
    const seen: string[] = [];
    await watches.watch(server('a'), 'file:///y', undefined, (p) => void seen.push(String(p.uri)));
    second.update('file:///y');
    await waitFor(() => seen.length === 1, 2000);
  });

  it('ends every watch session when it stops', async () => {
    const { bus, watches, ended } = setup();
    new FakeConnector(bus, 'c1');
    await watches.watch(server('a'), 'file:///x', undefined, () => undefined);
    await watches.watch(server('b'), 'file:///x', undefined, () => undefined);
    watches.stop();
    await waitFor(() => ended.length === 2, 2000);
    expect(watches.size).toBe(0);
  });
});
