/**
 * Every store key Switchboard writes, and its time to live. Keys are built here and nowhere else, so services
 * sharing one store never clash; the Redis stores add the deployment prefix (REDIS_PREFIX).
 */
export const CacheKeys = {
  /** The aggregated tool catalog, rebuilt from upstreams when a change event or the TTL says so. */
  catalog: () => ({ key: 'catalog:v1', ttlSeconds: 300 }),
  /** One upstream's tools, so that a change to one server refetches only that server. */
  serverTools: (serverId: string) => ({ key: `catalog:v1:server:${serverId}`, ttlSeconds: 300 }),
  /**
   * A marker each edge replica keeps in the store: finding it gone means the store lost its data (restarted without
   * persistence), and the replica writes back the sessions it holds.
   */
  storeMarker: (instance: string) => ({ key: `marker:v1:edge:${instance}`, ttlSeconds: 60 }),
  /** A client's MCP session, readable by every edge replica. */
  session: (sessionId: string) => ({ key: `session:v1:${sessionId}`, ttlSeconds: 24 * 3600 }),
  /** Requests a key made in the current minute (rpm_limit across replicas). */
  rateWindow: (tokenHash: string, minute: number) => ({ key: `rate:v1:${tokenHash}:${minute}`, ttlSeconds: 120 }),
  /** Calls a key has in flight across replicas (max_parallel_requests). */
  parallel: (tokenHash: string) => ({ key: `parallel:v1:${tokenHash}`, ttlSeconds: 600 }),
  /**
   * The lock one replica holds while it refreshes a user's upstream OAuth token (set-if-absent); the others wait
   * for the refreshed token. The TTL frees it if the holder dies mid-refresh.
   */
  upstreamTokenRefresh: (serverId: string, userId: string) => ({ key: `oauth:v1:refresh:${serverId}:${userId}`, ttlSeconds: 30 }),
  /** A consent link handed to a client that lacks an upstream credential: who, which server, which client. */
  upstreamConsentTicket: (ticket: string) => ({ key: `oauth:v1:ticket:${ticket}`, ttlSeconds: 600 }),
  /** An authorization in progress (PKCE verifier, the browser it is bound to), taken once by the callback. */
  upstreamAuthorizationFlow: (state: string) => ({ key: `oauth:v1:flow:${state}`, ttlSeconds: 600 }),
} as const;
