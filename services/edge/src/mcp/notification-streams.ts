import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { CatalogService } from '../catalog/catalog.service.js';
import { notificationJson } from './jsonrpc.js';

const KEEPALIVE_MS = 25_000;

/** The GET /mcp streams open on this replica, by session: where server-to-client messages are written. */
@Injectable()
export class NotificationStreams implements OnModuleInit, OnModuleDestroy {
  private readonly streams = new Map<string, Set<ServerResponse>>();
  private keepalive?: NodeJS.Timeout;
  private stopListening?: () => void;

  constructor(@Inject(CatalogService) private readonly catalogs: CatalogService) {}

  onModuleInit(): void {
    this.stopListening = this.catalogs.onChange(() => this.broadcast(notificationJson('notifications/tools/list_changed')));
    this.keepalive = setInterval(() => this.writeAll(': keepalive\n\n'), KEEPALIVE_MS);
    this.keepalive.unref();
  }

  onModuleDestroy(): void {
    this.stopListening?.();
    clearInterval(this.keepalive);
    for (const set of this.streams.values()) for (const res of set) res.end();
    this.streams.clear();
  }

  open(sessionId: string, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'mcp-session-id': sessionId });
    res.flushHeaders();
    let set = this.streams.get(sessionId);
    if (!set) this.streams.set(sessionId, (set = new Set()));
    set.add(res);
    res.on('close', () => {
      set.delete(res);
      if (set.size === 0) this.streams.delete(sessionId);
    });
  }

  close(sessionId: string): void {
    for (const res of this.streams.get(sessionId) ?? []) res.end();
    this.streams.delete(sessionId);
  }

  /** Writes one message to a session's stream if this replica holds it; false when it does not. */
  send(sessionId: string, messageJson: string): boolean {
    const set = this.streams.get(sessionId);
    if (!set?.size) return false;
    for (const res of set) res.write(`event: message\ndata: ${messageJson}\n\n`);
    return true;
  }

  broadcast(messageJson: string): void {
    this.writeAll(`event: message\ndata: ${messageJson}\n\n`);
  }

  private writeAll(chunk: string): void {
    for (const set of this.streams.values()) for (const res of set) res.write(chunk);
  }
}
