import { z } from 'zod';
import { defineContract, defineEvent } from '../contract.js';
import { Subjects } from '../subjects.js';
import { CacheHints, UpstreamPrompt, UpstreamResource, UpstreamResourceTemplate, UpstreamTool } from '../registry/catalog.js';
import { McpServerRuntime } from '../registry/servers.js';
import { UpstreamUser } from '../registry/upstream-oauth.js';

/** Client-to-server MCP methods a connector forwards to an upstream. */
export const ForwardedMethod = z.enum([
  'tools/call',
  'tools/list',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'ping',
]);
export type ForwardedMethod = z.infer<typeof ForwardedMethod>;

/**
 * The client session a forwarded request comes from. With it the connector relays what the upstream sends back
 * during the call (progress, logs, sampling, elicitation, roots) and lets the client cancel the call.
 */
export const ClientContext = z.object({
  session_id: z.string().min(1),
  /** The client's JSON-RPC id of this request (notifications/cancelled names it). */
  request_id: z.union([z.string(), z.number()]).optional(),
  /** The capabilities the client declared in initialize (sampling, elicitation, roots, …). */
  capabilities: z.record(z.string(), z.unknown()).default({}),
  /**
   * The client needs an upstream session of its own on this server (it declared sampling, elicitation or roots,
   * subscribed to a resource or set a log level): created lazily with the client's capabilities.
   */
  dedicated: z.boolean().default(false),
  /**
   * `modern`: a 2026-07-28 client (absent: a 2025-era one), which takes no server-to-client requests. What a 2025-era upstream asks of it
   * during the call comes back as `input_required` (UpstreamReply), the call parked in this connector until resumed.
   */
  era: z.enum(['legacy', 'modern']).optional(),
  /** Who calls (the key's hash): a parked call resumes only for the same caller. */
  principal: z.string().optional(),
});
export type ClientContext = z.infer<typeof ClientContext>;

const UpstreamRequestBody = z.object({
  server_id: z.string().min(1),
  method: ForwardedMethod,
  params: z.record(z.string(), z.unknown()).optional(),
  /** Headers for the upstream taken from the client's request (x-mcp-{server}-authorization, extra_headers). */
  forward_headers: z.record(z.string(), z.string()).optional(),
  client: ClientContext.optional(),
  /** Who the request acts for: per-user upstream credentials (auth_type oauth2, authorization_code) are theirs. */
  user: UpstreamUser.optional(),
  /**
   * Resumes a call parked on this instance (sent to the instance's own subject): the client's answers to the
   * upstream's requests, by the keys of `input_required.requests`.
   */
  resume: z.object({ park_id: z.string().min(1), responses: z.record(z.string(), z.unknown()).default({}) }).optional(),
});
/** How long a parked call waits for its client to come back (the gateway's requestState lives as long). */
export const PARK_TIMEOUT_MS = 5 * 60_000;

/** A parked call needs the client's input: the upstream's requests to it, by key (the embedded 2026 form). */
export const InputRequired = z.object({
  park_id: z.string(),
  requests: z.record(z.string(), z.looseObject({ method: z.string(), params: z.record(z.string(), z.unknown()).optional() })),
});
export type InputRequired = z.infer<typeof InputRequired>;
const UpstreamReply = z.object({
  result: z.record(z.string(), z.unknown()),
  /** Set when a dedicated upstream session answered: the connector instance holding it (the edge records it). */
  instance: z.string().optional(),
  /** Set (with `instance` and an empty result) when a modern client's call is parked waiting for its input. */
  input_required: InputRequired.optional(),
});
/**
 * What the connector streams ahead of the reply: a JSON-RPC message for the client, already rewritten (progress
 * tokens back to the client's own, server-to-client request ids made routable: see ClientResponse).
 */
export const StreamedClientMessage = z.object({ message: z.looseObject({ jsonrpc: z.literal('2.0'), method: z.string() }) });
export type StreamedClientMessage = z.infer<typeof StreamedClientMessage>;

/** One MCP request forwarded to one upstream, over the pooled session or the client's dedicated one. */
export const UpstreamRequest = defineContract('UpstreamRequest', Subjects.connector.upstreamRequest, UpstreamRequestBody, UpstreamReply, StreamedClientMessage);

/** The same request sent to the one connector instance that holds the client's dedicated upstream session. */
export const instanceUpstreamRequest = (instance: string) =>
  defineContract(`UpstreamRequest(${instance})`, Subjects.connector.instanceUpstreamRequest(instance), UpstreamRequestBody, UpstreamReply, StreamedClientMessage);

/**
 * Ids of server-to-client requests as the client sees them: `sb-{instance}-{n}`, so that whichever edge replica
 * receives the client's answer can route it to the connector instance whose upstream request is waiting.
 */
export const CLIENT_REQUEST_ID_PREFIX = 'sb-';
export function clientRequestId(instance: string, n: number): string {
  return `${CLIENT_REQUEST_ID_PREFIX}${instance}-${n}`;
}
/** The connector instance a client-facing request id names, or undefined when the id is not one of ours. */
export function instanceOfClientRequestId(id: unknown): string | undefined {
  if (typeof id !== 'string' || !id.startsWith(CLIENT_REQUEST_ID_PREFIX)) return undefined;
  const end = id.lastIndexOf('-');
  return end > CLIENT_REQUEST_ID_PREFIX.length ? id.slice(CLIENT_REQUEST_ID_PREFIX.length, end) : undefined;
}

/** The client's answer to a server-to-client request, delivered to the connector instance that asked. */
export const clientResponseContract = (instance: string) =>
  defineContract(
    `ClientResponse(${instance})`,
    Subjects.connector.instanceClientResponse(instance),
    z.object({
      session_id: z.string(),
      response: z.looseObject({ jsonrpc: z.literal('2.0'), id: z.union([z.string(), z.number()]) }),
    }),
    z.object({ delivered: z.boolean() }),
  );

/**
 * A notification from the client for its own upstream sessions on one connector instance
 * (`notifications/roots/list_changed`: the upstreams then ask the client for its roots again).
 */
export const clientNotificationContract = (instance: string) =>
  defineContract(
    `ClientNotification(${instance})`,
    Subjects.connector.instanceClientNotification(instance),
    z.object({ session_id: z.string(), notification: z.looseObject({ jsonrpc: z.literal('2.0'), method: z.string() }) }),
    z.object({ delivered: z.number().int() }),
  );

/** A client cancelled one of its requests: every connector checks its calls in flight (cancellations are rare). */
export const UpstreamCancelled = defineEvent(
  'UpstreamCancelled',
  Subjects.connector.upstreamCancelled,
  z.object({ session_id: z.string(), request_id: z.union([z.string(), z.number()]), reason: z.string().optional() }),
);

/** Everything the catalog keeps of one upstream, all pages collected. */
export const FetchServerCatalog = defineContract(
  'FetchServerCatalog',
  Subjects.connector.fetchCatalog,
  z.object({ server_id: z.string().min(1) }),
  z.object({
    tools: z.array(UpstreamTool),
    server_info: z.record(z.string(), z.unknown()).nullable(),
    protocol_version: z.string().nullable(),
    /** The upstream's capabilities (what it serves: tools, prompts, resources, completions, logging). */
    capabilities: z.record(z.string(), z.unknown()).default({}),
    prompts: z.array(UpstreamPrompt).default([]),
    resources: z.array(UpstreamResource).default([]),
    resource_templates: z.array(UpstreamResourceTemplate).default([]),
    /**
     * Tools the upstream lists only to clients declaring one capability (server-everything shows its sampling tool
     * only to clients that declare sampling): capability name -> the extra tools.
     */
    capability_tools: z.record(z.string(), z.array(UpstreamTool)).default({}),
    /** The hints a 2026-07-28 upstream gave its lists (tools/list, prompts/list, …); absent for 2025-era ones. */
    cache_hints: CacheHints.optional(),
  }),
);

/** Published by each connector replica once it answers on the bus (the registry then fetches what it is missing). */
export const ConnectorStarted = defineEvent('ConnectorStarted', Subjects.connector.connectorStarted, z.object({ replica_id: z.string() }));

export const UpstreamListChanged = defineEvent(
  'UpstreamListChanged',
  Subjects.connector.upstreamListChanged,
  z.object({ server_id: z.string(), list: z.enum(['tools', 'prompts', 'resources']) }),
);

/**
 * Connects once to an inline server definition (not a stored server id: the admin UI's "Test connection" before
 * saving), through the same transports, address checks and version negotiation as the pool, then closes it.
 * `list_tools` also lists its tools (every page, and those shown only to clients declaring a capability).
 * A connection that fails is an UPSTREAM_UNAVAILABLE / UPSTREAM_TIMEOUT error naming the server.
 */
export const ProbeServer = defineContract(
  'ProbeServer',
  Subjects.connector.probeServer,
  z.object({ server: McpServerRuntime, list_tools: z.boolean().default(false) }),
  z.object({
    protocol_version: z.string().nullable(),
    server_info: z.record(z.string(), z.unknown()).nullable(),
    capabilities: z.record(z.string(), z.unknown()).default({}),
    tools: z.array(UpstreamTool).optional(),
  }),
);
