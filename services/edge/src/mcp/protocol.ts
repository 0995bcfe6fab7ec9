/** Protocol revisions the edge negotiates with clients, newest first (2024-11-05 for the legacy SSE transport). */
export const SUPPORTED_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;
export const LATEST_PROTOCOL_VERSION = SUPPORTED_PROTOCOL_VERSIONS[0];

/** The client's requested revision when we speak it, else our newest (the client then decides). */
export function negotiateProtocolVersion(requested: unknown): string {
  return typeof requested === 'string' && (SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(requested)
    ? requested
    : LATEST_PROTOCOL_VERSION;
}

/** A request's MCP-Protocol-Version header must name a revision we speak (clients before 2025-06-18 send none). */
export function isSupportedProtocolHeader(value: string | undefined): boolean {
  return value === undefined || (SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(value);
}

export const SERVER_NAME = 'switchboard';
