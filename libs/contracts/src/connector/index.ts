import { z } from 'zod';
import { defineContract, defineEvent } from '../contract.js';
import { Subjects } from '../subjects.js';
import { UpstreamTool } from '../registry/catalog.js';

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

/** One MCP request forwarded to one upstream over the connector's pooled session. */
export const UpstreamRequest = defineContract(
  'UpstreamRequest',
  Subjects.connector.upstreamRequest,
  z.object({
    server_id: z.string().min(1),
    method: ForwardedMethod,
    params: z.record(z.string(), z.unknown()).optional(),
    /** Headers for the upstream taken from the client's request (x-mcp-{server}-authorization, extra_headers). */
    forward_headers: z.record(z.string(), z.string()).optional(),
  }),
  z.object({ result: z.record(z.string(), z.unknown()) }),
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
  }),
);

export const UpstreamListChanged = defineEvent(
  'UpstreamListChanged',
  Subjects.connector.upstreamListChanged,
  z.object({ server_id: z.string(), list: z.enum(['tools', 'prompts', 'resources']) }),
);
