import { LATEST_PROTOCOL_VERSION as SDK_LATEST, SUPPORTED_PROTOCOL_VERSIONS as SDK_VERSIONS } from '@modelcontextprotocol/sdk/types.js';

/**
 * Protocol revisions the edge negotiates with clients, newest first: the SDK's list (2024-11-05 for the legacy
 * SSE transport), without 2024-10-07, a pre-release revision the edge never served.
 */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = SDK_VERSIONS.filter((v) => v >= '2024-11-05');
export const LATEST_PROTOCOL_VERSION = SDK_LATEST;
/** The session-based revisions (initialize, Mcp-Session-Id): what `initialize` negotiates. */
export const LEGACY_PROTOCOL_VERSIONS = SUPPORTED_PROTOCOL_VERSIONS;
/** The stateless revisions, newest first: every request names one in its `_meta` (see modern.ts). */
export const MODERN_PROTOCOL_VERSIONS: readonly string[] = ['2026-07-28'];

/** The client's requested revision when we speak it, else our newest (the client then decides). */
export function negotiateProtocolVersion(requested: unknown): string {
  return typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
    ? requested
    : LATEST_PROTOCOL_VERSION;
}

/** A request's MCP-Protocol-Version header must name a revision we speak (clients before 2025-06-18 send none). */
export function isSupportedProtocolHeader(value: string | undefined): boolean {
  return value === undefined || SUPPORTED_PROTOCOL_VERSIONS.includes(value);
}

export const SERVER_NAME = 'switchboard';
