import { Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Bus } from '#libs/bus';
import { DomainError, instanceUpstreamRequest, SessionEnded, sessionStreamEvent, UpstreamRequest, type CatalogServer, type ReplyOf, type RequestOf } from '#libs/contracts';

/** How long one upstream subscribe or unsubscribe may take. */
const CALL_TIMEOUT_MS = 10_000;

/** Called with each `notifications/resources/updated` params object for a watched URI. */
export type ResourceUpdate = (params: Record<string, unknown>) => void;

/**
 * One upstream session of this edge replica, on one server (per set of forwarded credentials), subscribed to every
 * URI its listeners here want. It is a connector's per-client session under a session id of our own
 * (`listen-{replica}-{n}`), so what the upstream sends on it comes back to this replica alone: on the session's
 * stream subject, or streamed on a subscribe call in flight.
 */
interface Watch {
  key: string;
  sessionId: string;
  server: CatalogServer;
  forwardHeaders: Record<string, string> | undefined;
  /** URI -> the listeners' callbacks. */
  uris: Map<string, Set<ResourceUpdate>>;
  /** The URIs the upstream session on `instance` has subscribed. */
  subscribed: Set<string>;
  /** The connector instance holding the upstream session (undefined: the queue group picks one). */
  instance: string | undefined;
  /**
   * URIs whose updates may have been missed: the watch moved to a new upstream session (its connector stopped).
   * Once subscribed again, each is announced as updated once: a spurious update costs a read, a missed one is wrong.
   */
  unsure: Set<string>;
  /** Changes to one watch run one after another, so that one upstream session is made, on one connector. */
  queue: Promise<unknown>;
  stopStream: () => void;
}

/**
 * The upstream side of `subscriptions/listen`'s `resourceSubscriptions`. Each edge replica subscribes for its own
 * listeners (no state shared between replicas to keep right: when a replica goes, its watches go with it):
 * the first listener of a URI subscribes it upstream, the last one unsubscribes it, and a server's watch session
 * is ended (SessionEnded: the connector closes it) when no URI of it is left. While listeners exist, every URI is
 * subscribed again each `refreshMs`: that keeps the connector's per-client session from closing as idle, and
 * restores subscriptions an upstream lost (its session made again, its connector gone). A URI subscribed again on
 * another connector's session is announced as updated once, since updates in between may have been missed.
 */
export class ResourceWatches {
  private readonly log = new Logger(ResourceWatches.name);
  private readonly watches = new Map<string, Watch>();
  private next = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly bus: Bus,
    /** This replica's id, in the watch session ids. */
    private readonly instance: string,
    private readonly refreshMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      for (const watch of this.watches.values()) this.enqueue(watch, () => this.sync(watch, true));
    }, this.refreshMs);
    this.timer.unref();
  }

  /** Ends every watch session (this replica stops). */
  stop(): void {
    clearInterval(this.timer);
    for (const watch of [...this.watches.values()]) this.end(watch);
  }

  /**
   * Delivers the upstream's updates of `uri` to `onUpdate` until the returned release is called. Resolves once the
   * upstream has subscribed it (or had it already): `subscribed` false when the upstream refused or failed.
   */
  async watch(server: CatalogServer, uri: string, forwardHeaders: Record<string, string> | undefined, onUpdate: ResourceUpdate): Promise<{ subscribed: boolean; release: () => void }> {
    const watch = this.watchFor(server, forwardHeaders);
    let callbacks = watch.uris.get(uri);
    if (!callbacks) watch.uris.set(uri, (callbacks = new Set()));
    callbacks.add(onUpdate);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const current = watch.uris.get(uri);
      if (!current?.delete(onUpdate) || current.size > 0) return;
      watch.uris.delete(uri);
      this.enqueue(watch, () => this.sync(watch, false));
    };
    const subscribed = await this.enqueue(watch, async () => {
      await this.sync(watch, false);
      return watch.subscribed.has(uri);
    });
    if (!subscribed) release();
    return { subscribed: subscribed === true, release };
  }

  /** The number of watch sessions open (tests, health). */
  get size(): number {
    return this.watches.size;
  }

  private watchFor(server: CatalogServer, forwardHeaders: Record<string, string> | undefined): Watch {
    const key = `${server.server_id}\u0000${forwardHeaders ? credentialsKey(forwardHeaders) : ''}`;
    let watch = this.watches.get(key);
    if (watch) {
      watch.server = server;
      return watch;
    }
    const sessionId = `listen-${this.instance}-${++this.next}`;
    watch = { key, sessionId, server, forwardHeaders, uris: new Map(), subscribed: new Set(), instance: undefined, unsure: new Set(), queue: Promise.resolve(), stopStream: () => undefined };
    const current = watch;
    watch.stopStream = this.bus.subscribe(sessionStreamEvent(sessionId), ({ message }) => this.deliver(current, message));
    this.watches.set(key, watch);
    return watch;
  }

  /** Runs `work` after the watch's earlier changes; its failures are logged, never thrown (resolves undefined). */
  private enqueue<T>(watch: Watch, work: () => Promise<T>): Promise<T | undefined> {
    const run = watch.queue.then(work).catch((error: Error) => {
      this.log.warn(`resource watch on ${watch.server.server_name}: ${error.message}`);
      return undefined;
    });
    watch.queue = run;
    return run;
  }

  /**
   * Brings the upstream session in line with the URIs wanted: unsubscribes those nobody wants, subscribes the
   * missing ones (every one with `all`), and ends the watch when nothing is wanted. A URI the upstream refuses
   * is left unsubscribed (its listeners are told so by `watch`).
   */
  private async sync(watch: Watch, all: boolean): Promise<void> {
    if (this.watches.get(watch.key) !== watch) return;
    for (const uri of [...watch.subscribed]) {
      if (watch.uris.has(uri)) continue;
      watch.subscribed.delete(uri);
      await this.send(watch, 'resources/unsubscribe', uri).catch((error: Error) => this.log.debug(`unsubscribe ${uri}: ${error.message}`));
    }
    if (watch.uris.size === 0) return this.end(watch);
    // a second round when the upstream session moved to another connector halfway (what it had subscribed is gone)
    const refused = new Set<string>();
    for (let round = 0; round < 2; round++) {
      const missing = [...watch.uris.keys()].filter((uri) => !refused.has(uri) && (all || !watch.subscribed.has(uri)));
      if (missing.length === 0) break;
      all = false;
      for (const uri of missing) {
        try {
          await this.send(watch, 'resources/subscribe', uri);
          if (watch.uris.has(uri)) watch.subscribed.add(uri);
          if (watch.unsure.delete(uri)) this.deliver(watch, { method: 'notifications/resources/updated', params: { uri } });
        } catch (error) {
          refused.add(uri);
          watch.subscribed.delete(uri);
          this.log.warn(`${watch.server.server_name}: resources/subscribe ${uri} failed: ${(error as Error).message}`);
        }
      }
    }
  }

  /**
   * One request on the watch's upstream session: to the connector instance that holds it, or (first, or when that
   * instance is gone) to the queue group, where a connector makes the session anew and names itself in the reply.
   */
  private async send(watch: Watch, method: 'resources/subscribe' | 'resources/unsubscribe', uri: string): Promise<void> {
    const request: RequestOf<typeof UpstreamRequest> = {
      server_id: watch.server.server_id,
      method,
      params: { uri },
      ...(watch.forwardHeaders ? { forward_headers: watch.forwardHeaders } : {}),
      client: { session_id: watch.sessionId, capabilities: {}, dedicated: true },
    };
    // what the upstream sends while the call is in flight is streamed on it instead of the session's subject
    const options = { timeoutMs: CALL_TIMEOUT_MS, onMessage: (streamed: unknown) => this.deliver(watch, (streamed as { message: unknown }).message) };
    let reply: ReplyOf<typeof UpstreamRequest> | undefined;
    if (watch.instance) {
      try {
        reply = await this.bus.call(instanceUpstreamRequest(watch.instance), request, options);
      } catch (error) {
        if (!isGoneInstance(error)) throw error;
        this.log.warn(`connector instance ${watch.instance} is gone: resource watch ${watch.sessionId} on ${watch.server.server_name} moves`);
      }
    }
    reply ??= await this.bus.call(UpstreamRequest, request, options);
    if (reply.instance !== watch.instance) {
      // a move (not the first session): what the old session would have sent meanwhile is lost
      if (watch.instance !== undefined) for (const wanted of watch.uris.keys()) watch.unsure.add(wanted);
      watch.instance = reply.instance;
      watch.subscribed.clear(); // a new upstream session: nothing subscribed on it yet but this
      if (!reply.instance) this.log.warn(`${watch.server.server_name}: no upstream session of its own for resource watch ${watch.sessionId} (stdio cap reached?): updates may not arrive`);
    }
  }

  private deliver(watch: Watch, message: unknown): void {
    let parsed: { method?: unknown; params?: unknown } | undefined;
    try {
      parsed = (typeof message === 'string' ? JSON.parse(message) : message) as typeof parsed;
    } catch {
      return;
    }
    if (parsed?.method !== 'notifications/resources/updated' || !parsed.params || typeof parsed.params !== 'object') return;
    const params = parsed.params as Record<string, unknown>;
    const callbacks = typeof params.uri === 'string' ? watch.uris.get(params.uri) : undefined;
    for (const onUpdate of [...(callbacks ?? [])]) onUpdate(params);
  }

  private end(watch: Watch): void {
    if (this.watches.get(watch.key) !== watch) return;
    this.watches.delete(watch.key);
    watch.stopStream();
    watch.uris.clear();
    watch.subscribed.clear();
    // the connector holding the upstream session closes it (its subscriptions go with it)
    this.bus.publish(SessionEnded, { session_id: watch.sessionId });
  }
}

/** Watches are per set of forwarded credentials: one client's upstream credentials never serve another's. */
function credentialsKey(headers: Record<string, string>): string {
  const canonical = JSON.stringify(Object.entries(headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** A bus request to one connector instance found no one answering: that instance has stopped. */
function isGoneInstance(error: unknown): boolean {
  return error instanceof DomainError && error.code === 'UPSTREAM_UNAVAILABLE' && /no service is answering/.test(error.message);
}
