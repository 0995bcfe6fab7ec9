import { get, type ServerHealth, type ServerView } from '../api';
import { Badge, Link, Loading, PageTitle } from '../components/layout';
import { useLoad } from '../hooks';

export const TRANSPORTS: Record<string, string> = { http: 'Streamable HTTP', sse: 'SSE', stdio: 'stdio' };

export function healthBadge(health: ServerHealth | undefined) {
  if (!health || health.status === 'unknown') return <Badge tone="neutral">not checked yet</Badge>;
  return health.status === 'healthy' ? <Badge tone="ok">healthy</Badge> : <Badge tone="bad">unhealthy</Badge>;
}

/** The protocol era a revision belongs to: the legacy HTTP+SSE one, or Streamable HTTP's revisions. */
export function era(version: string | null | undefined): string {
  if (!version) return '—';
  return version <= '2024-11-05' ? `${version} (legacy)` : version;
}

export function ServersPage() {
  const servers = useLoad(async (signal) => {
    const [list, health] = await Promise.all([
      get<ServerView[]>('/v1/mcp/server', { signal }),
      get<{ servers: ServerHealth[] }>('/v1/mcp/server/health', { signal }),
    ]);
    return { list, health: new Map(health.servers.map((h) => [h.server_id, h])) };
  }, []);

  return (
    <>
      <PageTitle
        actions={
          <Link href="/servers/new" class="button">
            Add New MCP Server
          </Link>
        }
      >
        MCP Servers
      </PageTitle>
      {servers.error ? (
        <div class="alert error" role="alert">
          {servers.error.message}
        </div>
      ) : null}
      {!servers.data ? (
        <Loading what="servers" />
      ) : servers.data.list.length === 0 ? (
        <p>No MCP server yet. Add one with “Add New MCP Server”, or list them under mcp_servers in the config file.</p>
      ) : (
        <div class="table-wrap" role="region" aria-label="MCP servers" tabIndex={0}>
          <table class="stack">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Transport</th>
                <th scope="col">Health</th>
                <th scope="col">Protocol</th>
                <th scope="col" class="num">
                  Tools
                </th>
                <th scope="col">Access groups</th>
                <th scope="col">Source</th>
              </tr>
            </thead>
            <tbody>
              {servers.data.list.map((server) => {
                const health = servers.data!.health.get(server.server_id);
                return (
                  <tr key={server.server_id} data-server={server.server_name}>
                    <th scope="row">
                      <Link href={`/servers/${encodeURIComponent(server.server_id)}`}>{server.server_name}</Link>
                      {server.alias ? <span class="muted"> {server.alias}</span> : null}
                      {server.description ? <div class="muted small">{server.description}</div> : null}
                    </th>
                    <td data-label="Transport">{TRANSPORTS[server.transport] ?? server.transport}</td>
                    <td data-label="Health">
                      {healthBadge(health)}
                      {health?.error ? <div class="muted small">{health.error}</div> : null}
                    </td>
                    <td data-label="Protocol">{era(health?.protocol_version ?? server.spec_version)}</td>
                    <td class="num" data-label="Tools">{health?.tool_count ?? 0}</td>
                    <td data-label="Access groups">{server.access_groups.join(', ') || '—'}</td>
                    <td data-label="Source">{server.source === 'config' ? 'config file' : 'API'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
