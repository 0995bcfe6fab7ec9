/**
 * The connector's env shape on top of BusEnv (NATS_URL, NATS_NAMESPACE, LOG_LEVEL). It needs nothing else:
 * everything about an upstream (url, command, credentials, timeout, max_concurrent_requests) comes from the
 * registry's ResolveServer, per server.
 */
export const ConnectorEnv = {};
