import { aggregateToolNames, type CatalogServer, type UpstreamTool } from '#libs/contracts';
import type { PreparedCatalog } from '../catalog/catalog.service.js';

/** Client capabilities that change what an upstream lists (and that it may send requests for). */
export const CLIENT_FEATURES = ['elicitation', 'roots', 'sampling'] as const;
export type ClientFeature = (typeof CLIENT_FEATURES)[number];

/** The features among a client's declared capabilities, as a stable key ('' for none). */
export function featureKey(capabilities: Record<string, unknown> | undefined): string {
  if (!capabilities) return '';
  return CLIENT_FEATURES.filter((f) => capabilities[f] !== undefined).join('+');
}

/** A server's tools as a client with these features sees them: the common list, then the capability extras. */
export function toolsFor(server: CatalogServer, features: string): UpstreamTool[] {
  if (!features || !server.capability_tools) return server.tools;
  const tools = [...server.tools];
  const names = new Set(tools.map((t) => t.name));
  for (const feature of features.split('+')) {
    for (const tool of server.capability_tools[feature] ?? []) {
      if (!names.has(tool.name)) {
        names.add(tool.name);
        tools.push(tool);
      }
    }
  }
  return tools;
}

interface NamedRoute {
  server: CatalogServer;
  name: string;
}

/**
 * Prompts, resources and resource templates of one catalog version, indexed for the aggregate endpoint:
 * prompt and template names prefixed like tools (`{server}-{name}`, the same naming rules), resource URIs kept
 * exactly as the upstream gave them and routed by the servers that list them (or whose template matches).
 */
export class McpIndex {
  /** aggregate prompt name -> server and upstream name; server_id -> upstream name -> aggregate name */
  readonly promptRoutes = new Map<string, NamedRoute>();
  readonly promptNames = new Map<string, Map<string, string>>();
  readonly templateNames = new Map<string, Map<string, string>>();
  /** URI -> ids of the servers that list it */
  private readonly uris = new Map<string, string[]>();
  private readonly templates: { serverId: string; pattern: RegExp }[] = [];

  constructor(catalog: PreparedCatalog) {
    const healthy = catalog.catalog.servers.filter((s) => s.status === 'healthy');
    const prompts = healthy.flatMap((s) => (s.prompts ?? []).map((p) => ({ server: s, name: p.name })));
    aggregateToolNames(prompts.map((p) => ({ server: p.server.server_name, tool: p.name }))).forEach((name, i) => {
      const route = prompts[i]!;
      this.promptRoutes.set(name, route);
      mapOf(this.promptNames, route.server.server_id).set(route.name, name);
    });
    const templates = healthy.flatMap((s) => (s.resource_templates ?? []).map((t) => ({ server: s, name: t.name ?? t.uriTemplate, template: t.uriTemplate })));
    aggregateToolNames(templates.map((t) => ({ server: t.server.server_name, tool: t.name }))).forEach((name, i) => {
      const entry = templates[i]!;
      mapOf(this.templateNames, entry.server.server_id).set(entry.name, name);
      this.templates.push({ serverId: entry.server.server_id, pattern: templatePattern(entry.template) });
    });
    for (const server of healthy) {
      for (const resource of server.resources ?? []) {
        const ids = this.uris.get(resource.uri) ?? [];
        if (!ids.includes(server.server_id)) ids.push(server.server_id);
        this.uris.set(resource.uri, ids);
      }
    }
  }

  /** Ids of the servers claiming a URI: those listing it, else those with a template matching it. */
  serversForUri(uri: string): string[] {
    const listed = this.uris.get(uri);
    if (listed) return listed;
    const ids: string[] = [];
    for (const t of this.templates) if (t.pattern.test(uri) && !ids.includes(t.serverId)) ids.push(t.serverId);
    return ids;
  }
}

function mapOf<K, V>(map: Map<K, Map<string, V>>, key: K): Map<string, V> {
  let inner = map.get(key);
  if (!inner) map.set(key, (inner = new Map()));
  return inner;
}

/** An RFC 6570 URI template as a matcher: each expression matches one or more characters. */
export function templatePattern(template: string): RegExp {
  let source = '';
  let last = 0;
  for (const match of template.matchAll(/\{[^}]*\}/g)) {
    source += escapeRegExp(template.slice(last, match.index)) + (match[0].startsWith('{?') || match[0].startsWith('{&') ? '.*' : '.+');
    last = match.index! + match[0].length;
  }
  source += escapeRegExp(template.slice(last));
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
