import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { METADATA_PREFIX } from '../oauth/resource-settings.js';
import { ProtectedResource } from '../oauth/protected-resource.js';
import { LegacySseService } from './legacy-sse.service.js';
import type { McpScope } from './mcp.dispatcher.js';
import { StreamableHttpService } from './streamable-http.service.js';

const AGGREGATE: McpScope = { kind: 'aggregate' };
/** `/mcp`, `/mcp/{server}` and `/{server}/mcp`; the server segment is a registry name or id. */
const MCP_PATH = /^\/(?:mcp(?:\/([^/]+))?|([^/]+)\/mcp)\/?$/;

/**
 * The MCP endpoints, routed before Express: MCP traffic is the hot path and needs none of Express's or Nest's
 * per-request machinery (query parsing, router stack, guards, param decorators). Everything else falls through
 * to the Nest application.
 *   /mcp (every server, prefixed names), /mcp/{server} and /{server}/mcp (one server, its own names): Streamable HTTP
 *   GET /sse + POST /messages?sessionId=: the legacy HTTP+SSE transport
 */
@Injectable()
export class McpRouter {
  constructor(
    @Inject(StreamableHttpService) private readonly transport: StreamableHttpService,
    @Inject(LegacySseService) private readonly legacy: LegacySseService,
    @Inject(ProtectedResource) private readonly resource: ProtectedResource,
  ) {}

  /** Handles the request and returns true when it is an MCP endpoint; false leaves it to the next handler. */
  route(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';

    if (path === '/sse' && method === 'GET') return this.run(this.legacy.open(req, res));
    if (path === '/messages' && method === 'POST') {
      const sessionId = new URLSearchParams(q < 0 ? '' : url.slice(q + 1)).get('sessionId') ?? undefined;
      return this.run(this.legacy.post(req, res, sessionId));
    }
    if (path === METADATA_PREFIX || path.startsWith(`${METADATA_PREFIX}/`)) {
      this.resource.serveMetadata(req, res, path); // RFC 9728 metadata of the endpoints (404 while JWT auth is off)
      return true;
    }
    const match = MCP_PATH.exec(path);
    if (!match) return false;
    const server = match[1] ?? match[2];
    const serverName = server ? decodePathSegment(server) : undefined;
    if (server && serverName === undefined) {
      // malformed percent-encoding names no server (decodeURIComponent would throw out of the request handler)
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request: the server name in the path is not valid percent-encoding' } }));
      return true;
    }
    const scope: McpScope = serverName ? { kind: 'server', serverName } : AGGREGATE;
    // with JWT auth on, credentials are settled at the HTTP level first (401/403 challenges), then the transport runs
    if (this.resource.enabled && (method === 'POST' || method === 'GET' || method === 'DELETE')) {
      return this.run(
        this.resource.admit(req, res, path).then((admitted) => {
          if (admitted) this.dispatch(req, res, scope, method);
        }),
      );
    }
    return this.dispatch(req, res, scope, method);
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, scope: McpScope, method: string): true {
    if (method === 'POST') return this.run(this.transport.post(req, res, scope));
    if (method === 'GET') return this.run(this.transport.get(req, res, scope));
    if (method === 'DELETE') return this.run(this.transport.delete(req, res, scope));
    res.writeHead(405, { allow: 'GET, POST, DELETE', 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32600, message: `Method ${method} not allowed` } }));
    return true;
  }

  private run(handling: Promise<void>): true {
    void handling.catch(() => undefined); // every handler writes its own errors
    return true;
  }
}

/** A path segment decoded, or undefined when its percent-encoding is malformed. */
function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
