import type { McpServerRuntime } from '#libs/contracts';

type HeaderSource = Pick<McpServerRuntime, 'auth_type' | 'auth_value' | 'static_headers'>;

/** Header names that only the transport itself sets; never taken from config or clients. */
const RESERVED = new Set(['host', 'content-length', 'content-type', 'accept', 'connection', 'transfer-encoding', 'mcp-session-id', 'mcp-protocol-version']);

/** `Authorization`/`X-API-Key` for the server's auth_type, then its static_headers. Names are lower-case. */
export function buildServerHeaders(server: HeaderSource): Record<string, string> {
  const headers: Record<string, string> = {};
  const value = server.auth_value ?? '';
  if (value) {
    switch (server.auth_type) {
      case 'bearer_token':
        headers.authorization = `Bearer ${value}`;
        break;
      case 'basic':
        // "user:pass" is encoded here; anything else is taken to be base64 already.
        headers.authorization = `Basic ${value.includes(':') ? Buffer.from(value, 'utf8').toString('base64') : value}`;
        break;
      case 'api_key':
        headers['x-api-key'] = value;
        break;
      case 'authorization':
        headers.authorization = value;
        break;
      case 'none':
        break;
    }
  }
  return mergeHeaders(headers, server.static_headers);
}

/** Overlays `extra` on `base` (case-insensitively, `extra` wins); reserved transport headers are skipped. */
export function mergeHeaders(base: Record<string, string>, extra: Record<string, string> | undefined): Record<string, string> {
  if (!extra) return base;
  const out = { ...base };
  for (const [name, value] of Object.entries(extra)) {
    const key = name.toLowerCase();
    if (RESERVED.has(key) || typeof value !== 'string') continue;
    out[key] = value;
  }
  return out;
}
