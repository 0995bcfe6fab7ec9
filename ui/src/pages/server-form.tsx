import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post, put, type AuthType, type OAuth2Flow, type ServerView, type Tool, type Transport } from '../api';
import { CheckboxField, CheckList, FormError, KeyValueEditor, SelectField, TextAreaField, TextField } from '../components/fields';
import { Link, Loading, PageTitle } from '../components/layout';
import { useLoad, useSubmit } from '../hooks';
import { navigate } from '../router';
import { createBody, EMPTY_FORM, fromView, isOAuth, OAUTH_FIELDS, oauthFieldsFor, updateBody, usesAuthValue, type FormState } from '../server-body';

/** Streamable HTTP servers usually answer on …/mcp and SSE ones on …/sse. */
function urlHint(url: string, transport: Transport): string | undefined {
  let path: string;
  try {
    path = new URL(url).pathname.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
  if (path.endsWith('/mcp') || path.endsWith('/sse')) return undefined;
  return `This path does not end in /mcp or /sse, where MCP servers usually answer (${transport === 'sse' ? 'SSE servers on …/sse' : 'Streamable HTTP servers on …/mcp'}). Check the URL.`;
}

type TestState =
  | { state: 'idle' }
  | { state: 'running' }
  | { state: 'ok'; message: string; tools: Tool[] }
  | { state: 'failed'; message: string };

export function ServerFormPage(props: { serverId?: string }) {
  const editing = props.serverId !== undefined;
  const [form, setForm] = useState<FormState>(EMPTY_FORM);
  const [loaded, setLoaded] = useState(!editing);
  const [stored, setStored] = useState<ServerView | undefined>();
  const [test, setTest] = useState<TestState>({ state: 'idle' });
  const [newGroup, setNewGroup] = useState('');
  const [error, setError] = useState<ApiError | undefined>();
  const groups = useLoad((signal) => get<{ access_groups: { name: string; servers: string[] }[] }>('/v1/mcp/access_groups', { signal }), []);
  const [extraGroups, setExtraGroups] = useState<string[]>([]);

  useEffect(() => {
    if (!props.serverId) return;
    const controller = new AbortController();
    get<ServerView>(`/v1/mcp/server/${encodeURIComponent(props.serverId)}`, { signal: controller.signal }).then(
      (view) => {
        setStored(view);
        setForm(fromView(view));
        setLoaded(true);
      },
      (caught: ApiError) => !controller.signal.aborted && setError(caught),
    );
    return () => controller.abort();
  }, [props.serverId]);

  const set = <K extends keyof FormState>(key: K) => (value: FormState[K]) => setForm((f) => ({ ...f, [key]: value }));

  const testConnection = async () => {
    setError(undefined);
    setTest({ state: 'running' });
    const body: Record<string, unknown> = { ...createBody(form), ...(editing && stored ? { server_id: stored.server_id } : {}) };
    if (!form.server_name.trim()) delete body.server_name;
    try {
      const connection = await post<{ status: string; message: string }>('/mcp-rest/test/connection', body);
      if (connection.status !== 'ok') return setTest({ state: 'failed', message: connection.message });
      const listed = await post<{ tools: Tool[]; status?: string; message: string; protocol_version?: string | null }>('/mcp-rest/test/tools/list', body);
      if (listed.status === 'error') return setTest({ state: 'failed', message: listed.message });
      const count = `${listed.tools.length} tool${listed.tools.length === 1 ? '' : 's'}`;
      setTest({ state: 'ok', message: `${count}, protocol ${listed.protocol_version ?? 'unknown'}.`, tools: listed.tools });
    } catch (caught) {
      setTest({ state: 'idle' });
      setError(caught instanceof ApiError ? caught : new ApiError(0, String(caught), 'error', {}));
    }
  };

  const save = useSubmit(async () => {
    setError(undefined);
    const saved = editing ? await put<ServerView>('/v1/mcp/server', updateBody(form, stored!)) : await post<ServerView>('/v1/mcp/server', createBody(form));
    navigate(`/servers/${encodeURIComponent(saved.server_id)}`);
  });
  const shownError = save.error ?? error;

  if (!loaded) {
    return (
      <>
        <PageTitle>Edit MCP server</PageTitle>
        {error ? (
          <div class="alert error" role="alert">
            {error.message}
          </div>
        ) : (
          <Loading what="the server" />
        )}
      </>
    );
  }

  const stdio = form.transport === 'stdio';
  const groupOptions = [...new Set([...(groups.data?.access_groups.map((g) => g.name) ?? []), ...extraGroups, ...form.access_groups])].sort();
  const toolOptions = [...new Set([...(test.state === 'ok' ? test.tools.map((t) => t.name) : []), ...form.tools])];
  const hint = !stdio ? urlHint(form.url, form.transport) : undefined;

  return (
    <>
      <PageTitle>{editing ? `Edit ${stored?.server_name}` : 'Add New MCP Server'}</PageTitle>
      <form
        class="card form-grid"
        noValidate
        aria-label={editing ? 'Edit MCP server' : 'New MCP server'}
        onSubmit={(e) => {
          e.preventDefault();
          void save.submit();
        }}
      >
        <h2 class="wide">Server</h2>
        <TextField id="server-name" name="server_name" label="Name" value={form.server_name} onValue={set('server_name')} error={shownError} required hint="Lowercase letters, digits and _; also the prefix of its tools (name-tool)." />
        <TextField id="server-alias" name="alias" label="Alias" value={form.alias} onValue={set('alias')} error={shownError} />
        <TextAreaField id="server-description" name="description" label="Description" value={form.description} onValue={set('description')} error={shownError} wide rows={2} />

        <h2 class="wide">Connection</h2>
        <SelectField
          id="server-transport"
          name="transport"
          label="Transport"
          value={form.transport}
          onValue={(v) => set('transport')(v as Transport)}
          error={shownError}
          options={[
            ['http', 'Streamable HTTP'],
            ['sse', 'SSE (Server-Sent Events)'],
            ['stdio', 'stdio (a command on the gateway host)'],
          ]}
        />
        {stdio ? (
          <>
            <TextField id="server-command" name="command" label="Command" value={form.command} onValue={set('command')} error={shownError} required extraError={test.state === 'failed' ? test.message : undefined} hint="Run on the connector's host: the master key, or a command listed in mcp_stdio_allowed_commands." />
            <TextAreaField id="server-args" name="args" label="Arguments (one per line)" value={form.args} onValue={set('args')} error={shownError} rows={3} />
            <div class="wide">
              <KeyValueEditor
                id="server-env"
                legend="Environment variables"
                name="env"
                rows={form.env}
                onRows={(rows) => setForm((f) => ({ ...f, env: rows, envTouched: true }))}
                keyLabel="Variable"
                valueLabel="Value"
                error={shownError}
                hint={editing ? 'Stored values are shown masked; change a row to send them all again.' : undefined}
              />
            </div>
          </>
        ) : (
          <TextField id="server-url" name="url" label="URL" type="url" inputMode="url" value={form.url} onValue={set('url')} error={shownError} required wide placeholder="https://example.com/mcp" hint={hint} extraError={test.state === 'failed' ? test.message : undefined} />
        )}
        <SelectField
          id="server-auth-type"
          name="auth_type"
          label="Authentication"
          value={form.auth_type}
          onValue={(v) => set('auth_type')(v as AuthType)}
          error={shownError}
          hint={isOAuth(form.auth_type) ? 'The gateway is the OAuth client: every request to this server carries the gateway’s token for it, never the caller’s key.' : undefined}
          options={[
            ['none', 'None'],
            ['bearer_token', 'Bearer token'],
            ['api_key', 'API key (X-API-Key)'],
            ['basic', 'Basic (user:password)'],
            ['authorization', 'Authorization header value'],
            ['oauth2', 'OAuth 2 (client credentials or per-user authorization code)'],
            ['oauth2_token_exchange', 'OAuth 2 token exchange (RFC 8693)'],
          ]}
        />
        {usesAuthValue(form.auth_type) ? (
          <TextField
            id="server-auth-value"
            name="auth_value"
            label="Credential"
            type="password"
            autoComplete="new-password"
            value={form.auth_value}
            onValue={set('auth_value')}
            error={shownError}
            hint={editing && stored?.auth_value ? `Stored (${stored.auth_value}); leave empty to keep it. It is never shown again after saving.` : 'Stored encrypted; never shown again after saving.'}
          />
        ) : null}
        {isOAuth(form.auth_type) ? <OAuthFields form={form} set={set} stored={editing ? stored : undefined} error={shownError} /> : null}
        <div class="wide">
          <KeyValueEditor id="server-static-headers" legend="Static headers (sent to the server on every request)" name="static_headers" rows={form.static_headers} onRows={set('static_headers')} keyLabel="Header" valueLabel="Value" error={shownError} />
        </div>
        <TextField id="server-extra-headers" name="extra_headers" label="Forwarded headers" value={form.extra_headers} onValue={set('extra_headers')} error={shownError} wide hint="Header names copied from the client's request to the server, comma-separated." />
        <TextField id="server-timeout" name="timeout" label="Timeout (seconds per call)" inputMode="decimal" value={form.timeout} onValue={set('timeout')} error={shownError} />

        <div class="wide test-row">
          <button type="button" class="secondary" onClick={() => void testConnection()} disabled={test.state === 'running'}>
            {test.state === 'running' ? 'Testing…' : 'Test connection'}
          </button>
          <p role="status" class={`test-status ${test.state}`} data-test-status={test.state}>
            {test.state === 'ok' ? `Connected: ${test.message}` : test.state === 'failed' ? `Could not connect: ${test.message}` : test.state === 'running' ? 'Connecting…' : 'Test the connection to pick tools from the server’s real tool list.'}
          </p>
        </div>

        <h2 class="wide">Access</h2>
        <div class="wide">
          <CheckList id="server-groups" legend="Access groups" name="access_groups" error={shownError} options={groupOptions.map((g) => ({ value: g }))} selected={form.access_groups} onSelected={set('access_groups')} empty="No access group exists yet: create one below." />
          <div class="inline-add">
            <label for="server-new-group">New access group</label>
            <input id="server-new-group" value={newGroup} onInput={(e) => setNewGroup((e.currentTarget as HTMLInputElement).value)} spellcheck={false} autoComplete="off" />
            <button
              type="button"
              class="secondary small"
              onClick={() => {
                const name = newGroup.trim();
                if (!name) return;
                setExtraGroups((g) => [...g, name]);
                setForm((f) => ({ ...f, access_groups: [...new Set([...f.access_groups, name])] }));
                setNewGroup('');
              }}
            >
              Create group
            </button>
          </div>
        </div>
        <div class="wide">
          <CheckboxField id="server-allow-all" name="allow_all_keys" label="Every valid key may use this server (allow_all_keys)" checked={form.allow_all_keys} onChecked={set('allow_all_keys')} error={shownError} />
        </div>
        <fieldset class="wide radios">
          <legend>Tools offered</legend>
          {(
            [
              ['all', 'All of its tools'],
              ['allowed', 'Only the tools picked below (allowed_tools)'],
              ['disallowed', 'All but the tools picked below (disallowed_tools)'],
            ] as const
          ).map(([value, label]) => (
            <div key={value}>
              <input type="radio" id={`server-filter-${value}`} name="tool-filter" value={value} checked={form.toolFilter === value} onChange={() => set('toolFilter')(value)} />
              <label for={`server-filter-${value}`}>{label}</label>
            </div>
          ))}
        </fieldset>
        {form.toolFilter !== 'all' ? (
          <div class="wide">
            <CheckList
              id="server-tools"
              legend={form.toolFilter === 'allowed' ? 'Allowed tools' : 'Disallowed tools'}
              name={form.toolFilter === 'allowed' ? 'allowed_tools' : 'disallowed_tools'}
              error={shownError}
              options={toolOptions.map((t) => ({ value: t }))}
              selected={form.tools}
              onSelected={set('tools')}
              empty="Use “Test connection” to list the server's tools."
            />
          </div>
        ) : null}

        <div class="wide">
          <FormError error={shownError} fields={['server_name', 'alias', 'description', 'transport', 'url', 'command', 'args', 'env', 'auth_type', 'auth_value', 'static_headers', 'extra_headers', 'access_groups', 'allowed_tools', 'disallowed_tools', 'timeout', 'allow_all_keys', ...OAUTH_FIELDS]} />
          <div class="actions">
            <button type="submit" disabled={save.pending}>
              {save.pending ? 'Saving…' : editing ? 'Save changes' : 'Add server'}
            </button>
            <Link href={editing ? `/servers/${encodeURIComponent(props.serverId!)}` : '/servers'} class="button secondary">
              Cancel
            </Link>
          </div>
        </div>
      </form>
    </>
  );
}

type Setter = <K extends keyof FormState>(key: K) => (value: FormState[K]) => void;

/** The OAuth settings of auth_type oauth2 / oauth2_token_exchange: only the fields that apply to the flow chosen. */
function OAuthFields(props: { form: FormState; set: Setter; stored: ServerView | undefined; error: ApiError | undefined }) {
  const { form, set, stored, error } = props;
  const applies = oauthFieldsFor(form);
  const exchange = form.auth_type === 'oauth2_token_exchange';
  const perUser = form.auth_type === 'oauth2' && form.oauth2_flow === 'authorization_code';
  const storedSecret = stored?.client_secret ?? null;
  const origin = window.location.origin;
  const name = form.server_name.trim() || '{server}';
  return (
    <>
      <h3 class="wide">{exchange ? 'OAuth token exchange' : 'OAuth'}</h3>
      {applies.has('oauth2_flow') ? (
        <SelectField
          id="server-oauth2-flow"
          name="oauth2_flow"
          label="OAuth flow"
          value={form.oauth2_flow}
          onValue={(v) => set('oauth2_flow')(v as OAuth2Flow)}
          error={error}
          options={[
            ['client_credentials', 'Client credentials (one machine token)'],
            ['authorization_code', 'Authorization code (each user connects their own account)'],
          ]}
          hint={
            perUser
              ? 'Each user approves the gateway on its consent page, then signs in at the authorization server; their calls carry their own token.'
              : 'The gateway fetches one token for the server with its own client credentials and uses it for every caller.'
          }
        />
      ) : null}
      <TextField id="server-client-id" name="client_id" label="Client ID" value={form.client_id} onValue={set('client_id')} error={error} required hint="The gateway’s client at the authorization server." />
      {applies.has('client_secret') ? (
        <TextField
          id="server-client-secret"
          name="client_secret"
          label="Client secret"
          type="password"
          autoComplete="new-password"
          value={form.client_secret}
          onValue={set('client_secret')}
          error={error}
          hint={storedSecret ? `Stored (${storedSecret}); leave empty to keep it. It is never shown again after saving.` : 'Stored encrypted; never shown again after saving.'}
        />
      ) : null}
      <SelectField
        id="server-token-auth-method"
        name="token_endpoint_auth_method"
        label="Client authentication at the token endpoint"
        value={form.token_endpoint_auth_method}
        onValue={(v) => set('token_endpoint_auth_method')(v as FormState['token_endpoint_auth_method'])}
        error={error}
        options={[
          ['', 'Default (Basic with a secret, else none)'],
          ['client_secret_basic', 'client_secret_basic (HTTP Basic)'],
          ['client_secret_post', 'client_secret_post (in the form body)'],
          ['none', 'none (a public client: no secret)'],
        ]}
        hint={form.token_endpoint_auth_method === 'none' && storedSecret ? 'A public client sends no secret: the stored one is removed on saving.' : undefined}
      />
      <TextField
        id="server-issuer"
        name="issuer"
        label="Issuer"
        type="url"
        inputMode="url"
        value={form.issuer}
        onValue={set('issuer')}
        error={error}
        placeholder="https://auth.example.com"
        hint="The authorization server’s issuer: its metadata (RFC 8414, else OpenID discovery) fills in the endpoints left empty."
      />
      <TextField
        id="server-token-url"
        name="token_url"
        label="Token URL"
        type="url"
        inputMode="url"
        value={form.token_url}
        onValue={set('token_url')}
        error={error}
        placeholder="https://auth.example.com/oauth/token"
        hint={exchange ? 'Where the gateway gets a client-credentials token to list the server’s tools (default: the token exchange endpoint).' : 'Required unless the issuer is set.'}
      />
      {applies.has('authorization_url') ? (
        <TextField
          id="server-authorization-url"
          name="authorization_url"
          label="Authorization URL"
          type="url"
          inputMode="url"
          value={form.authorization_url}
          onValue={set('authorization_url')}
          error={error}
          placeholder="https://auth.example.com/authorize"
          hint={`Where users sign in (required unless the issuer is set). Register ${origin}/v1/mcp/oauth/callback as the redirect URI there (or your public_base_url’s).`}
        />
      ) : null}
      {applies.has('token_exchange_endpoint') ? (
        <TextField
          id="server-token-exchange-endpoint"
          name="token_exchange_endpoint"
          label="Token exchange endpoint"
          type="url"
          inputMode="url"
          value={form.token_exchange_endpoint}
          onValue={set('token_exchange_endpoint')}
          error={error}
          placeholder="https://idp.example.com/oauth2/token"
          hint="Where a caller’s own OAuth token is exchanged for one of this server (required unless the issuer or token URL is set)."
        />
      ) : null}
      {applies.has('audience') ? (
        <TextField id="server-audience" name="audience" label="Audience" value={form.audience} onValue={set('audience')} error={error} placeholder="api://internal-tools" hint="The audience asked for the exchanged token (optional)." />
      ) : null}
      {applies.has('subject_token_type') ? (
        <TextField
          id="server-subject-token-type"
          name="subject_token_type"
          label="Subject token type"
          value={form.subject_token_type}
          onValue={set('subject_token_type')}
          error={error}
          placeholder="urn:ietf:params:oauth:token-type:access_token"
          hint="Empty: an access token (the default)."
        />
      ) : null}
      <TextField id="server-scopes" name="scopes" label="Scopes" value={form.scopes} onValue={set('scopes')} error={error} wide placeholder="read:issues write:issues" hint="Separated by spaces or commas; empty: none asked." />
      {perUser ? (
        <p class="wide hint" data-consent-pattern>
          A user who has not connected their account gets a consent link when they call this server: <code class="url">{`${origin}/v1/mcp/oauth/${name}/authorize?ticket=…`}</code> (single use, 10 minutes).
        </p>
      ) : null}
    </>
  );
}
