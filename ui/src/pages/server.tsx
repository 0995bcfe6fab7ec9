import { Fragment, type ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { del, get, post, query, type ApiError, type CallToolResult, type ServerHealth, type ServerView, type Tool } from '../api';
import { FormError } from '../components/fields';
import { Link, Loading, PageTitle, when } from '../components/layout';
import { SchemaForm, ToolResult } from '../components/schema-form';
import { useLoad, useSubmit } from '../hooks';
import { navigate } from '../router';
import { era, healthBadge, TRANSPORTS } from './servers';

/** A server's page: overview, its tools (as the signed-in key sees them) with their schemas, and a form to call one. */
export function ServerPage(props: { serverId: string }) {
  const ref = encodeURIComponent(props.serverId);
  const server = useLoad((signal) => get<ServerView>(`/v1/mcp/server/${ref}`, { signal }), [props.serverId]);
  const health = useLoad((signal) => get<{ servers: ServerHealth[] }>(`/v1/mcp/server/health${query({ server_id: props.serverId })}`, { signal }).then((r) => r.servers[0]), [props.serverId]);
  // The registry's view of its tools (the server's own tool filter applied); a call is made as the signed-in key.
  const tools = useLoad(
    (signal) =>
      get<{ tools: Tool[] }>('/v1/mcp/tools', { signal }).then((r) =>
        r.tools.filter((t) => t.mcp_info && (t.mcp_info.server_id === props.serverId || t.mcp_info.server_name === props.serverId)),
      ),
    [props.serverId],
  );
  const [selected, setSelected] = useState<string | undefined>();
  const [confirming, setConfirming] = useState(false);
  const [polls, setPolls] = useState(0);

  // A server just added reaches the catalog within a few seconds: look again until it has been checked.
  const checked = health.data && health.data.status !== 'unknown' && (health.data.status === 'unhealthy' || (tools.data?.length ?? 0) > 0 || health.data.tool_count === 0);
  useEffect(() => {
    if (checked || polls >= 30 || health.loading || tools.loading) return;
    const timer = setTimeout(() => {
      setPolls((n) => n + 1);
      health.reload();
      tools.reload();
    }, 1000);
    return () => clearTimeout(timer);
  }, [checked, polls, health.loading, tools.loading]);

  const remove = useSubmit(async () => {
    await del(`/v1/mcp/server/${ref}`);
    navigate('/servers');
  });

  const view = server.data;
  const tool = tools.data?.find((t) => t.name === selected);
  return (
    <>
      <PageTitle
        actions={
          view ? (
            <>
              <Link href={`/servers/${ref}/edit`} class="button secondary">
                Edit
              </Link>
              {confirming ? (
                <>
                  <button type="button" class="danger" onClick={() => void remove.submit()} disabled={remove.pending}>
                    Delete {view.server_name} for good
                  </button>
                  <button type="button" class="secondary" onClick={() => setConfirming(false)}>
                    Keep it
                  </button>
                </>
              ) : (
                <button type="button" class="danger" onClick={() => setConfirming(true)}>
                  Delete
                </button>
              )}
            </>
          ) : null
        }
      >
        {view ? view.server_name : 'MCP server'}
      </PageTitle>
      <FormError error={remove.error ?? server.error} />
      {!view ? (
        server.error ? null : <Loading what="the server" />
      ) : (
        <section class="card" aria-labelledby="overview-title">
          <h2 id="overview-title">Overview</h2>
          <dl class="facts">
            <dt>Transport</dt>
            <dd>{TRANSPORTS[view.transport]}</dd>
            <dt>{view.transport === 'stdio' ? 'Command' : 'URL'}</dt>
            <dd>
              <code>{view.transport === 'stdio' ? [view.command, ...view.args].join(' ') : view.url}</code>
            </dd>
            <dt>Health</dt>
            <dd>
              {healthBadge(health.data)} {health.data?.error ? <span class="muted">{health.data.error}</span> : null}
            </dd>
            <dt>Protocol</dt>
            <dd>{era(health.data?.protocol_version ?? view.spec_version)}</dd>
            <dt>Last checked</dt>
            <dd>{when(health.data?.last_checked)}</dd>
            <dt>Authentication</dt>
            <dd>{authSummary(view)}</dd>
            <dt>Access groups</dt>
            <dd>{view.access_groups.join(', ') || '—'}</dd>
            <dt>Every key may use it</dt>
            <dd>{view.allow_all_keys ? 'yes' : 'no'}</dd>
            <dt>Tool filter</dt>
            <dd>{view.allowed_tools ? `only ${view.allowed_tools.join(', ')}` : view.disallowed_tools ? `all but ${view.disallowed_tools.join(', ')}` : 'all tools'}</dd>
            {view.description ? (
              <>
                <dt>Description</dt>
                <dd>{view.description}</dd>
              </>
            ) : null}
            <dt>Source</dt>
            <dd>{view.source === 'config' ? 'config file' : 'API'}</dd>
          </dl>
        </section>
      )}
      {view && (view.auth_type === 'oauth2' || view.auth_type === 'oauth2_token_exchange') ? <OAuthSettings view={view} /> : null}

      <section class="card" aria-labelledby="tools-title">
        <h2 id="tools-title">Tools {tools.data ? <span class="muted">({view ? tools.data.filter((t) => offered(view, t.mcp_info?.tool_name ?? t.name)).length : tools.data.length} offered)</span> : null}</h2>
        {tools.error ? (
          <div class="alert error" role="alert">
            {tools.error.message}
          </div>
        ) : !tools.data || (!checked && tools.data.length === 0) ? (
          <Loading what="its tools" />
        ) : tools.data.length === 0 ? (
          <p>No tool{health.data?.status === 'unhealthy' ? ': the server is not answering' : ' (its tool filter may leave none)'}.</p>
        ) : (
          <ul class="tool-list">
            {tools.data.map((t) => {
              const name = t.mcp_info?.tool_name ?? t.name;
              const filtered = view ? !offered(view, name) : false;
              return (
                <li key={t.name} data-tool={name} data-offered={String(!filtered)}>
                  <div class="tool-row">
                    <div>
                      <strong>{name}</strong> {t.title && t.title !== name ? <span class="muted">{t.title}</span> : null}
                      {filtered ? <span class="muted small"> (not offered: the server's tool filter)</span> : null}
                      {t.description ? <p class="muted small">{t.description}</p> : null}
                    </div>
                    {filtered ? null : (
                      <button type="button" class="secondary small" aria-expanded={selected === t.name} aria-controls={`call-${name}`} onClick={() => setSelected(selected === t.name ? undefined : t.name)}>
                        {selected === t.name ? 'Close' : 'Try'}
                        {selected === t.name ? null : <span class="visually-hidden"> {name}</span>}
                      </button>
                    )}
                  </div>
                  {tool && view && selected === t.name ? <ToolPanel key={tool.name} tool={tool} server={view} /> : null}
                </li>
              );
            })}
          </ul>
        )}
      </section>
    </>
  );
}

const FLOWS = { client_credentials: 'client credentials', authorization_code: 'authorization code, per user' } as const;

function authSummary(view: ServerView): string {
  if (view.auth_type === 'none') return 'none';
  if (view.auth_type === 'oauth2') return `OAuth 2 (${view.oauth2_flow ? FLOWS[view.oauth2_flow] : 'no flow'})`;
  if (view.auth_type === 'oauth2_token_exchange') return 'OAuth 2 token exchange (RFC 8693)';
  return `${view.auth_type} (${view.auth_value ?? 'no credential stored'})`;
}

/** A server's OAuth settings as the API shows them (the client secret masked), and for a per-user server where users consent. */
function OAuthSettings(props: { view: ServerView }) {
  const { view } = props;
  const exchange = view.auth_type === 'oauth2_token_exchange';
  const origin = window.location.origin;
  const rows: [string, string, ComponentChildren][] = [];
  const add = (field: string, label: string, value: string | null | undefined, code = false) => {
    if (value) rows.push([field, label, code ? <code>{value}</code> : value]);
  };
  if (!exchange) add('oauth2_flow', 'Flow', view.oauth2_flow ? FLOWS[view.oauth2_flow] : null);
  add('client_id', 'Client ID', view.client_id, true);
  rows.push(['client_secret', 'Client secret', view.client_secret ? <code>{view.client_secret}</code> : 'none stored']);
  add('token_endpoint_auth_method', 'Client authentication', view.token_endpoint_auth_method ?? 'default (Basic with a secret, else none)');
  add('issuer', 'Issuer', view.issuer, true);
  add('token_url', 'Token URL', view.token_url, true);
  add('authorization_url', 'Authorization URL', view.authorization_url, true);
  add('token_exchange_endpoint', 'Token exchange endpoint', view.token_exchange_endpoint, true);
  add('audience', 'Audience', view.audience, true);
  add('subject_token_type', 'Subject token type', view.subject_token_type, true);
  rows.push(['scopes', 'Scopes', view.scopes?.length ? view.scopes.join(' ') : 'none asked']);
  return (
    <section class="card" aria-labelledby="oauth-title">
      <h2 id="oauth-title">{exchange ? 'OAuth token exchange' : 'OAuth'}</h2>
      <dl class="facts" data-oauth-settings>
        {rows.map(([field, label, value]) => (
          <Fragment key={field}>
            <dt>{label}</dt>
            <dd data-oauth-field={field}>{value}</dd>
          </Fragment>
        ))}
      </dl>
      {view.auth_type === 'oauth2' && view.oauth2_flow === 'authorization_code' ? (
        <>
          <h3>Users connect their own account</h3>
          <p>
            A user who has not connected their account (or an MCP client they have not approved) gets a consent link in the server’s answer, valid once for 10 minutes:{' '}
            <code class="url" data-consent-pattern>{`${origin}/v1/mcp/oauth/${encodeURIComponent(view.server_name)}/authorize?ticket=…`}</code>
          </p>
          <p>
            The authorization server sends them back to <code class="url">{`${origin}/v1/mcp/oauth/callback`}</code>: register it as the redirect URI (with <code>public_base_url</code> set, both start with it instead).
          </p>
        </>
      ) : exchange ? (
        <p class="muted">Callers signed in to the gateway with OAuth have their own token exchanged for one of this server; callers with an API key have no token to exchange and are refused by it.</p>
      ) : null}
    </section>
  );
}

/** The server's own allowed_tools / disallowed_tools: what every key may be offered of it at most. */
function offered(server: ServerView, tool: string): boolean {
  if (server.allowed_tools) return server.allowed_tools.includes(tool);
  if (server.disallowed_tools) return !server.disallowed_tools.includes(tool);
  return true;
}

function ToolPanel(props: { tool: Tool; server: ServerView }) {
  const name = props.tool.mcp_info?.tool_name ?? props.tool.name;
  const [result, setResult] = useState<CallToolResult | undefined>();
  const call = useSubmit(async (args: Record<string, unknown>) => {
    setResult(undefined);
    setResult(await post<CallToolResult>('/mcp-rest/tools/call', { server_id: props.server.server_id, name, arguments: args }));
  });
  return (
    <section class="tool-panel" id={`call-${name}`} aria-labelledby={`call-${name}-title`}>
      <h3 id={`call-${name}-title`}>Call {name}</h3>
      <details>
        <summary>Input schema</summary>
        <pre>{JSON.stringify(props.tool.inputSchema ?? {}, null, 2)}</pre>
      </details>
      <SchemaForm id={`tool-${name}`} schema={props.tool.inputSchema ?? {}} submitLabel={`Call ${name}`} pending={call.pending} error={call.error as ApiError | undefined} onCall={(args) => void call.submit(args)} />
      <FormError error={call.error} />
      <div aria-live="polite">{result ? <ToolResult result={result} /> : null}</div>
    </section>
  );
}
