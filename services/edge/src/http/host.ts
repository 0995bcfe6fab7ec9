import type { IncomingMessage, ServerResponse } from 'node:http';
import { DomainError } from '#libs/contracts';
import { writeMcpError } from '../mcp/mcp-errors.js';
import { toHttpError } from './http-problem.js';
import { routeFamily } from './request-observer.js';

const LOOPBACK_HOST_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const MCP_FAMILIES = new Set(['/mcp', '/sse', '/messages']);

/** A bind address that only this machine can reach: localhost, 127.0.0.0/8 or ::1. */
export function isLoopbackBind(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** `Host: name[:port]` split into its lower-cased name (IPv6 kept in brackets) and port. */
export function parseHost(value: string): { name: string; port: string | undefined } {
  const host = value.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return { name: host, port: undefined };
    const rest = host.slice(end + 1);
    return { name: host.slice(0, end + 1), port: rest.startsWith(':') ? rest.slice(1) : undefined };
  }
  const colon = host.lastIndexOf(':');
  return colon < 0 ? { name: host, port: undefined } : { name: host.slice(0, colon), port: host.slice(colon + 1) };
}

/**
 * DNS-rebinding protection on the Host header (SPEC section 1). With a list (`ALLOWED_HOSTS`,
 * `general_settings.allowed_hosts`) only those hosts are accepted: `name` (any port), `name:port`, `*.domain` (its
 * subdomains) or `*` (anything). Without one, an edge bound to a loopback address accepts only loopback names
 * (localhost, 127.0.0.1, [::1], any port); otherwise nothing is checked. `/health/*` is never checked.
 */
export class HostPolicy {
  private constructor(
    /** null: every Host passes. */
    private readonly allowed: readonly string[] | null,
    readonly description: string,
  ) {}

  static from(allowedHosts: readonly string[], bindHost: string): HostPolicy {
    const listed = allowedHosts.map((h) => h.trim().toLowerCase()).filter(Boolean);
    if (listed.length > 0) return new HostPolicy(listed.includes('*') ? null : listed, `Host header checked: ${listed.join(', ')}`);
    if (isLoopbackBind(bindHost)) {
      return new HostPolicy(LOOPBACK_HOST_NAMES, `Host header checked: loopback names only (bound to ${bindHost}; ALLOWED_HOSTS widens it)`);
    }
    return new HostPolicy(null, 'Host header not checked (ALLOWED_HOSTS is unset)');
  }

  get checks(): boolean {
    return this.allowed !== null;
  }

  allows(host: string | undefined): boolean {
    if (this.allowed === null) return true;
    if (!host) return false;
    const { name, port } = parseHost(host);
    const full = port === undefined ? name : `${name}:${port}`;
    return this.allowed.some((entry) => {
      if (entry.startsWith('*.')) return name.endsWith(entry.slice(1)) && name.length > entry.length - 1;
      return entry === name || entry === full;
    });
  }

  /**
   * Answers 403 and returns false when the request's Host is not allowed: a JSON-RPC error on the MCP endpoints
   * (`/mcp…`, `/sse`, `/messages`), LiteLLM's JSON error elsewhere.
   */
  admit(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.allowed === null) return true;
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/health' || path.startsWith('/health/')) return true;
    const host = req.headers.host;
    if (this.allows(host)) return true;
    const error = new DomainError('PERMISSION_DENIED', host ? `Host ${host} is not allowed` : 'a Host header is required', { host: host ?? null });
    if (MCP_FAMILIES.has(routeFamily(path))) {
      writeMcpError(res, error);
    } else {
      const { status, headers, body } = toHttpError(error);
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    }
    return false;
  }
}
