import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post, put, type AuthType, type ServerView, type Tool, type Transport } from '../api';
import { CheckboxField, CheckList, FormError, KeyValueEditor, SelectField, TextAreaField, TextField, linesOf, recordOf, rowsOf } from '../components/fields';
import { Link, Loading, PageTitle } from '../components/layout';
import { useLoad, useSubmit } from '../hooks';
import { navigate } from '../router';

interface FormState {
  server_name: string;
  alias: string;
  description: string;
  transport: Transport;
  url: string;
  command: string;
  args: string;
  env: [string, string][];
  envTouched: boolean;
  auth_type: AuthType;
  auth_value: string;
  static_headers: [string, string][];
  extra_headers: string;
  access_groups: string[];
  allow_all_keys: boolean;
  timeout: string;
  toolFilter: 'all' | 'allowed' | 'disallowed';
  tools: string[];
}

const EMPTY: FormState = {
  server_name: '',
  alias: '',
  description: '',
  transport: 'http',
  url: '',
  command: '',
  args: '',
  env: [],
  envTouched: false,
  auth_type: 'none',
  auth_value: '',
  static_headers: [],
  extra_headers: '',
  access_groups: [],
  allow_all_keys: false,
  timeout: '',
  toolFilter: 'all',
  tools: [],
};

function fromView(view: ServerView): FormState {
  return {
    ...EMPTY,
    server_name: view.server_name,
    alias: view.alias ?? '',
    description: view.description ?? '',
    transport: view.transport,
    url: view.url ?? '',
    command: view.command ?? '',
    args: view.args.join('\n'),
    env: rowsOf(view.env),
    auth_type: view.auth_type,
    static_headers: rowsOf(view.static_headers),
    extra_headers: view.extra_headers.join(', '),
    access_groups: [...view.access_groups],
    allow_all_keys: view.allow_all_keys,
    timeout: view.timeout === null ? '' : String(view.timeout),
    toolFilter: view.allowed_tools ? 'allowed' : view.disallowed_tools ? 'disallowed' : 'all',
    tools: [...(view.allowed_tools ?? view.disallowed_tools ?? [])],
  };
}

/** A number when the text is one, else the text itself (so the API names the field). */
const numberOrText = (text: string): number | string => (text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text);

/** The body of POST /v1/mcp/server (and of the test endpoints): only what is filled in. */
function createBody(form: FormState): Record<string, unknown> {
  const body: Record<string, unknown> = { server_name: form.server_name.trim(), transport: form.transport };
  if (form.alias.trim()) body.alias = form.alias.trim();
  if (form.description.trim()) body.description = form.description.trim();
  if (form.transport === 'stdio') {
    body.command = form.command.trim();
    body.args = form.args.split('\n').map((a) => a.trim()).filter(Boolean);
    body.env = recordOf(form.env);
  } else {
    body.url = form.url.trim();
  }
  body.auth_type = form.auth_type;
  if (form.auth_type !== 'none' && form.auth_value) body.auth_value = form.auth_value;
  body.static_headers = recordOf(form.static_headers);
  body.extra_headers = linesOf(form.extra_headers);
  body.access_groups = form.access_groups;
  body.allow_all_keys = form.allow_all_keys;
  if (form.timeout.trim()) body.timeout = numberOrText(form.timeout);
  if (form.toolFilter === 'allowed') body.allowed_tools = form.tools;
  if (form.toolFilter === 'disallowed') body.disallowed_tools = form.tools;
  return body;
}

/** The body of PUT /v1/mcp/server: every field, `null` clearing what was emptied; secrets only when typed again. */
function updateBody(form: FormState, serverId: string): Record<string, unknown> {
  const body = createBody(form);
  delete body.server_name;
  const stdio = form.transport === 'stdio';
  const update: Record<string, unknown> = {
    ...body,
    server_id: serverId,
    server_name: form.server_name.trim(),
    alias: form.alias.trim() || null,
    description: form.description.trim() || null,
    url: stdio ? null : form.url.trim(),
    command: stdio ? form.command.trim() : null,
    timeout: form.timeout.trim() ? numberOrText(form.timeout) : null,
    allowed_tools: form.toolFilter === 'allowed' ? form.tools : null,
    disallowed_tools: form.toolFilter === 'disallowed' ? form.tools : null,
  };
  if (form.auth_type === 'none') update.auth_value = null;
  // Stored env values are shown masked: they are sent back only when changed here.
  if (!form.envTouched) delete update.env;
  return update;
}

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
  const [form, setForm] = useState<FormState>(EMPTY);
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
    const saved = editing ? await put<ServerView>('/v1/mcp/server', updateBody(form, stored!.server_id)) : await post<ServerView>('/v1/mcp/server', createBody(form));
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
          options={[
            ['none', 'None'],
            ['bearer_token', 'Bearer token'],
            ['api_key', 'API key (X-API-Key)'],
            ['basic', 'Basic (user:password)'],
            ['authorization', 'Authorization header value'],
          ]}
        />
        {form.auth_type !== 'none' ? (
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
          <FormError error={shownError} fields={['server_name', 'alias', 'description', 'transport', 'url', 'command', 'args', 'env', 'auth_type', 'auth_value', 'static_headers', 'extra_headers', 'access_groups', 'allowed_tools', 'disallowed_tools', 'timeout', 'allow_all_keys']} />
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
