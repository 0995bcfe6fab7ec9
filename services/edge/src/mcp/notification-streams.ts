import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Bus } from '#libs/bus';
import { sessionStreamEvent, streamHandoverContract, type CatalogServer } from '#libs/contracts';
import { CatalogService, type PreparedCatalog } from '../catalog/catalog.service.js';
import { notificationJson } from './jsonrpc.js';
import { lostReplyFrame, parsePostStreamId } from './post-stream.js';

const KEEPALIVE_MS = 25_000;
/** Events kept per session on this replica for a client resuming with Last-Event-ID. */
const REPLAY_EVENTS = 200;
/** How long a session's subscription and replay buffer outlive its last stream here (a client reconnecting). */
const RESUME_GRACE_MS = 5 * 60_000;

interface SessionStreams {
  responses: Set<ServerResponse>;
  /** The session's subject subscription: server-to-client messages from any replica or connector arrive here. */
  unsubscribe: () => void;
  nextEventId: number;
  recent: { id: number; chunk: string; json: string }[];
  /** While a resumed stream waits for the previous holder's events, live messages wait here. */
  held?: string[];
  /** 'legacy' streams (GET /sse) write plain `event: message` frames without ids. */
  legacy: boolean;
  expiry?: NodeJS.Timeout;
}

/**
 * The client streams (GET /mcp, the legacy GET /sse) open on this replica, by session: where server-to-client
 * messages are written. Opening a session's first stream subscribes to the session's own subject, so messages
 * for it (from a connector or another edge replica) reach this replica and no other: no broadcast. Event ids name
 * the replica (`{instance}-{n}`): a client reconnecting with Last-Event-ID here gets what it missed from this
 * replica's memory, or, when another replica held the stream, from that one, which hands the stream over
 * (StreamHandover on its own subject) and stops holding it.
 */
@Injectable()
export class NotificationStreams implements OnModuleInit, OnModuleDestroy {
  private readonly streams = new Map<string, SessionStreams>();
  private keepalive?: NodeJS.Timeout;
  private stopListening?: () => void;
  private lists?: Record<'tools' | 'prompts' | 'resources', string>;
  /** This replica's id: in its event ids and its handover subject. */
  readonly instance = randomBytes(6).toString('hex');
  private stopServing?: () => void;

  constructor(
    @Inject(CatalogService) private readonly catalogs: CatalogService,
    @Inject(Bus) private readonly bus: Bus,
  ) {}

  onModuleInit(): void {
    void this.catalogs
      .current()
      .then((catalog) => (this.lists ??= listFingerprints(catalog)))
      .catch(() => undefined);
    this.stopListening = this.catalogs.onChange((catalog) => {
      const next = listFingerprints(catalog);
      const previous = this.lists;
      this.lists = next;
      for (const list of ['tools', 'prompts', 'resources'] as const) {
        if (!previous || previous[list] !== next[list]) this.broadcast(notificationJson(`notifications/${list}/list_changed`));
      }
    });
    this.keepalive = setInterval(() => this.writeAll(': keepalive\n\n'), KEEPALIVE_MS);
    this.keepalive.unref();
    this.stopServing = this.bus.serve(streamHandoverContract(this.instance), `edge-${this.instance}`, async (data) => {
      const { session_id, after } = data as { session_id: string; after: number };
      const entry = this.streams.get(session_id);
      const messages = entry ? entry.recent.filter((e) => e.id > after).map((e) => e.json) : [];
      this.close(session_id); // the client is on another replica now: it holds the stream
      return { messages };
    });
  }

  onModuleDestroy(): void {
    this.stopServing?.();
    this.stopListening?.();
    clearInterval(this.keepalive);
    for (const entry of this.streams.values()) {
      entry.unsubscribe();
      for (const res of entry.responses) res.end();
    }
    this.streams.clear();
  }

  /**
   * Opens a stream for a session; with `lastEventId`, first replays the events after it: from this replica's
   * memory, or handed over by the replica that held the stream.
   */
  open(sessionId: string, res: ServerResponse, options: { lastEventId?: string; legacy?: boolean } = {}): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'mcp-session-id': sessionId });
    res.flushHeaders();
    // resuming a POST's stream, which is never kept: its request's reply is lost (post-stream.ts)
    const lostPost = parsePostStreamId(options.lastEventId);
    if (lostPost) res.write(lostReplyFrame(lostPost.requestId));
    let entry = this.streams.get(sessionId);
    if (!entry) {
      const unsubscribe = this.bus.subscribe(sessionStreamEvent(sessionId), ({ message }) => void this.send(sessionId, message));
      entry = { responses: new Set(), unsubscribe, nextEventId: 1, recent: [], legacy: options.legacy ?? false };
      this.streams.set(sessionId, entry);
    }
    const last = parseEventId(options.lastEventId);
    if (last && last.instance === this.instance) {
      for (const event of entry.recent) if (event.id > last.n) res.write(event.chunk);
    } else if (last && !entry.held) {
      const current = entry;
      current.held = [];
      void this.bus
        .call(streamHandoverContract(last.instance), { session_id: sessionId, after: last.n }, { timeoutMs: 2_000 })
        .then(({ messages }) => messages, () => [] as string[]) // that replica is gone: nothing to replay
        .then((messages) => {
          const live = current.held ?? [];
          current.held = undefined;
          for (const json of messages) this.send(sessionId, json);
          // what both replicas received while the stream changed hands arrives once
          for (const json of live) {
            const i = messages.lastIndexOf(json);
            if (i >= 0) messages.splice(i, 1);
            else this.send(sessionId, json);
          }
        });
    }
    entry.responses.add(res);
    clearTimeout(entry.expiry);
    const current = entry;
    res.on('close', () => {
      current.responses.delete(res);
      if (current.responses.size > 0) return;
      // the subscription and the replay buffer stay a while for a client that reconnects with Last-Event-ID
      current.expiry = setTimeout(() => {
        if (current.responses.size === 0 && this.streams.get(sessionId) === current) this.close(sessionId);
      }, current.legacy ? 0 : RESUME_GRACE_MS);
      current.expiry.unref();
    });
  }

  close(sessionId: string): void {
    const entry = this.streams.get(sessionId);
    if (!entry) return;
    clearTimeout(entry.expiry);
    entry.unsubscribe();
    for (const res of entry.responses) res.end();
    this.streams.delete(sessionId);
  }

  /** True when this replica holds a stream for the session. */
  holds(sessionId: string): boolean {
    return (this.streams.get(sessionId)?.responses.size ?? 0) > 0;
  }

  /**
   * Writes one message to a session's stream if this replica holds it (kept for resumption); false when it does
   * not hold it (publish it on the session's subject instead: `publish`).
   */
  send(sessionId: string, messageJson: string): boolean {
    const entry = this.streams.get(sessionId);
    if (!entry) return false;
    if (entry.held) {
      entry.held.push(messageJson);
      return true;
    }
    let chunk: string;
    if (entry.legacy) chunk = `event: message\ndata: ${messageJson}\n\n`;
    else {
      const id = entry.nextEventId++;
      chunk = `id: ${this.instance}-${id}\nevent: message\ndata: ${messageJson}\n\n`;
      entry.recent.push({ id, chunk, json: messageJson });
      if (entry.recent.length > REPLAY_EVENTS) entry.recent.shift();
    }
    for (const res of entry.responses) res.write(chunk);
    return entry.responses.size > 0 || !entry.legacy;
  }

  /** Sends a message to a session's stream wherever it is held (here, or on the replica subscribed to its subject). */
  publish(sessionId: string, messageJson: string): void {
    if (!this.send(sessionId, messageJson)) this.bus.publish(sessionStreamEvent(sessionId), { message: messageJson });
  }

  broadcast(messageJson: string): void {
    for (const sessionId of this.streams.keys()) this.send(sessionId, messageJson);
  }

  private writeAll(chunk: string): void {
    for (const entry of this.streams.values()) for (const res of entry.responses) res.write(chunk);
  }
}

/** `{instance}-{n}` as this class writes event ids; undefined for anything else. */
function parseEventId(id: string | undefined): { instance: string; n: number } | undefined {
  const match = id === undefined ? null : /^([0-9a-f]+)-(\d+)$/.exec(id);
  return match ? { instance: match[1]!, n: Number(match[2]) } : undefined;
}

function listFingerprints(catalog: PreparedCatalog): Record<'tools' | 'prompts' | 'resources', string> {
  const pick = (f: (s: CatalogServer) => unknown) => JSON.stringify(catalog.catalog.servers.map((s) => [s.server_id, s.status, f(s)]));
  return {
    tools: pick(({ prompts: _p, resources: _r, resource_templates: _t, checked_at: _c, error: _e, ...rest }) => rest),
    prompts: pick((s) => s.prompts ?? []),
    resources: pick((s) => [s.resources ?? [], s.resource_templates ?? []]),
  };
}
