import { useState } from 'preact/hooks';
import { get, post, query, type KeyInfo, type ObjectPermission, type TeamInfo } from '../api';
import { CheckboxField, FormError, SelectField, TextField } from '../components/fields';
import { ShownOnce } from '../components/copy';
import { Badge, Link, Loading, PageTitle, when } from '../components/layout';
import { UpstreamGrants } from '../components/grants';
import { EffectivePermissions, PermissionPicker, permissionSummary, useRegistry } from '../components/permissions';
import { useLoad, useSubmit } from '../hooks';
import { navigate } from '../router';

const KEY_FIELDS = ['key_alias', 'team_id', 'duration', 'rpm_limit', 'max_parallel_requests', 'object_permission', 'is_admin'];
const PAGE_SIZE = 25;

/** A whole number when the text is one, else the text (so the API names the field); empty = not set. */
const limit = (text: string): number | string | null => (text.trim() === '' ? null : /^\d+$/.test(text.trim()) ? Number(text.trim()) : text);

function status(key: KeyInfo) {
  if (key.blocked) return <Badge tone="bad">blocked</Badge>;
  if (key.expires && Date.parse(key.expires) < Date.now()) return <Badge tone="warn">expired</Badge>;
  return <Badge tone="ok">active</Badge>;
}

function useTeams() {
  return useLoad((signal) => get<{ teams: TeamInfo[] }>('/team/list', { signal }).then((r) => r.teams), []);
}

export function KeysPage() {
  const [page, setPage] = useState(1);
  const [version, setVersion] = useState(0);
  const keys = useLoad(
    (signal) => get<{ keys: KeyInfo[]; total_count: number; total_pages: number }>(`/key/list${query({ page, size: PAGE_SIZE, return_full_object: 'true' })}`, { signal }),
    [page, version],
  );
  const teams = useTeams();
  const registry = useRegistry();
  const teamName = (id: string | null) => (id ? (teams.data?.find((t) => t.team_id === id)?.team_alias ?? id) : '—');

  const [alias, setAlias] = useState('');
  const [teamId, setTeamId] = useState('');
  const [duration, setDuration] = useState('');
  const [rpm, setRpm] = useState('');
  const [parallel, setParallel] = useState('');
  const [isAdmin, setIsAdmin] = useState(false);
  const [permission, setPermission] = useState<ObjectPermission | null>(null);
  const [created, setCreated] = useState<{ key: string; key_alias: string | null } | undefined>();
  const create = useSubmit(async () => {
    setCreated(undefined);
    const body: Record<string, unknown> = { object_permission: permission };
    if (alias.trim()) body.key_alias = alias.trim();
    if (teamId) body.team_id = teamId;
    if (duration.trim()) body.duration = duration.trim();
    if (rpm.trim()) body.rpm_limit = limit(rpm);
    if (parallel.trim()) body.max_parallel_requests = limit(parallel);
    if (isAdmin) body.is_admin = true;
    const reply = await post<{ key: string; key_alias: string | null }>('/key/generate', body);
    setCreated(reply);
    setAlias('');
    setDuration('');
    setRpm('');
    setParallel('');
    setIsAdmin(false);
    setPermission(null);
    setPage(1);
    setVersion((v) => v + 1);
  });

  return (
    <>
      <PageTitle>Keys</PageTitle>
      <section class="card" aria-labelledby="new-key-title">
        <h2 id="new-key-title">Create a key</h2>
        <form
          class="form-grid"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void create.submit();
          }}
        >
          <TextField id="key-alias" name="key_alias" label="Alias" value={alias} onValue={setAlias} error={create.error} />
          <SelectField id="key-team" name="team_id" label="Team" value={teamId} onValue={setTeamId} error={create.error} options={[['', 'No team'], ...(teams.data ?? []).map((t): [string, string] => [t.team_id, t.team_alias ?? t.team_id])]} />
          <TextField id="key-duration" name="duration" label="Expires after" value={duration} onValue={setDuration} error={create.error} hint="Like 30d, 12h or 1y; empty: never." />
          <TextField id="key-rpm" name="rpm_limit" label="Requests per minute" inputMode="numeric" value={rpm} onValue={setRpm} error={create.error} hint="Empty: unlimited." />
          <TextField id="key-parallel" name="max_parallel_requests" label="Parallel requests" inputMode="numeric" value={parallel} onValue={setParallel} error={create.error} hint="Empty: unlimited." />
          <div class="wide">
            <CheckboxField id="key-admin" name="is_admin" label="Admin key (may use this admin UI and the management API)" checked={isAdmin} onChecked={setIsAdmin} error={create.error} />
          </div>
          <PermissionPicker id="key-permission" level="key" value={permission} onChange={setPermission} registry={registry.data} error={create.error} />
          <div class="wide">
            <FormError error={create.error} fields={KEY_FIELDS} />
            <button type="submit" disabled={create.pending}>
              {create.pending ? 'Creating…' : 'Create key'}
            </button>
          </div>
        </form>
        {created ? <ShownOnce id="new-key" label={`The new key${created.key_alias ? ` ${created.key_alias}` : ''}`} value={created.key} /> : null}
      </section>

      <section class="card" aria-labelledby="keys-title">
        <h2 id="keys-title">All keys {keys.data ? <span class="muted">({keys.data.total_count})</span> : null}</h2>
        {keys.error ? (
          <div class="alert error" role="alert">
            {keys.error.message}
          </div>
        ) : !keys.data ? (
          <Loading what="keys" />
        ) : keys.data.keys.length === 0 ? (
          <p>No key yet.</p>
        ) : (
          <>
            <div class="table-wrap" role="region" aria-label="Keys" tabIndex={0}>
              <table class="stack">
                <thead>
                  <tr>
                    <th scope="col">Key</th>
                    <th scope="col">Team</th>
                    <th scope="col">Status</th>
                    <th scope="col">Expires</th>
                    <th scope="col">MCP servers (key level)</th>
                  </tr>
                </thead>
                <tbody>
                  {keys.data.keys.map((key) => (
                    <tr key={key.token} data-key={key.key_alias ?? key.key_name}>
                      <th scope="row">
                        <Link href={`/keys/${key.token}`}>{key.key_alias ?? key.key_name}</Link>
                        <div class="muted small">
                          {key.key_name}
                          {key.is_admin ? ' · admin' : ''}
                        </div>
                      </th>
                      <td data-label="Team">{teamName(key.team_id)}</td>
                      <td data-label="Status">{status(key)}</td>
                      <td data-label="Expires">{key.expires ? when(key.expires) : 'never'}</td>
                      <td data-label="MCP servers">{permissionSummary(key.object_permission)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager page={page} pages={keys.data.total_pages} onPage={setPage} />
          </>
        )}
      </section>
    </>
  );
}

export function Pager(props: { page: number; pages: number; onPage: (page: number) => void }) {
  if (props.pages <= 1) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" class="secondary small" disabled={props.page <= 1} onClick={() => props.onPage(props.page - 1)}>
        Previous
      </button>
      <span>
        Page {props.page} of {props.pages}
      </span>
      <button type="button" class="secondary small" disabled={props.page >= props.pages} onClick={() => props.onPage(props.page + 1)}>
        Next
      </button>
    </nav>
  );
}

export function KeyPage(props: { token: string }) {
  const [version, setVersion] = useState(0);
  const info = useLoad((signal) => get<{ info: KeyInfo }>(`/key/info${query({ key: props.token })}`, { signal }).then((r) => r.info), [props.token, version]);
  const key = info.data;
  return (
    <>
      <PageTitle>{key ? `Key ${key.key_alias ?? key.key_name}` : 'Key'}</PageTitle>
      {info.error ? (
        <div class="alert error" role="alert">
          {info.error.message}
        </div>
      ) : null}
      {!key ? info.error ? null : <Loading what="the key" /> : <KeyEditor key={`${key.token}-${key.updated_at}`} info={key} onSaved={() => setVersion((v) => v + 1)} />}
      {key ? (
        <section class="card" aria-labelledby="effective-title">
          <h2 id="effective-title">Effective permissions</h2>
          {key.blocked || (key.expires && Date.parse(key.expires) < Date.now()) ? (
            <p data-key-refused>This key is {key.blocked ? 'blocked' : 'expired'}: every request with it is refused, whatever its permissions.</p>
          ) : (
            <EffectivePermissions keyRef={key.token} version={key.updated_at} />
          )}
        </section>
      ) : null}
      {key ? (
        <section class="card" aria-labelledby="grants-title">
          <h2 id="grants-title">Upstream OAuth connections</h2>
          {/* the key's user, as per-user OAuth servers know them: a key without a user is a user of its own */}
          <UpstreamGrants userId={key.user_id ?? `key:${key.token}`} />
        </section>
      ) : null}
    </>
  );
}

function KeyEditor(props: { info: KeyInfo; onSaved: () => void }) {
  const { info } = props;
  const teams = useTeams();
  const registry = useRegistry();
  const [alias, setAlias] = useState(info.key_alias ?? '');
  const [teamId, setTeamId] = useState(info.team_id ?? '');
  const [rpm, setRpm] = useState(info.rpm_limit === null ? '' : String(info.rpm_limit));
  const [parallel, setParallel] = useState(info.max_parallel_requests === null ? '' : String(info.max_parallel_requests));
  const [isAdmin, setIsAdmin] = useState(info.is_admin);
  const [permission, setPermission] = useState<ObjectPermission | null>(info.object_permission);
  const [confirming, setConfirming] = useState(false);
  const save = useSubmit(async () => {
    await post('/key/update', {
      key: info.token,
      key_alias: alias.trim() || null,
      team_id: teamId || null,
      rpm_limit: limit(rpm),
      max_parallel_requests: limit(parallel),
      is_admin: isAdmin,
      object_permission: permission,
    });
    props.onSaved();
  });
  const block = useSubmit(async () => {
    await post('/key/update', { key: info.token, blocked: !info.blocked });
    props.onSaved();
  });
  const remove = useSubmit(async () => {
    await post('/key/delete', { keys: [info.token] });
    navigate('/keys');
  });
  return (
    <section class="card" aria-labelledby="edit-key-title">
      <h2 id="edit-key-title">
        Settings {status(info)}
      </h2>
      <dl class="facts">
        <dt>Key</dt>
        <dd>
          <code>{info.key_name}</code>
        </dd>
        <dt>Created</dt>
        <dd>{when(info.created_at)}</dd>
        <dt>Expires</dt>
        <dd>{info.expires ? when(info.expires) : 'never'}</dd>
      </dl>
      <form
        class="form-grid"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void save.submit();
        }}
      >
        <TextField id="edit-key-alias" name="key_alias" label="Alias" value={alias} onValue={setAlias} error={save.error} />
        <SelectField id="edit-key-team" name="team_id" label="Team" value={teamId} onValue={setTeamId} error={save.error} options={[['', 'No team'], ...(teams.data ?? []).map((t): [string, string] => [t.team_id, t.team_alias ?? t.team_id])]} />
        <TextField id="edit-key-rpm" name="rpm_limit" label="Requests per minute" inputMode="numeric" value={rpm} onValue={setRpm} error={save.error} hint="Empty: unlimited." />
        <TextField id="edit-key-parallel" name="max_parallel_requests" label="Parallel requests" inputMode="numeric" value={parallel} onValue={setParallel} error={save.error} hint="Empty: unlimited." />
        <div class="wide">
          <CheckboxField id="edit-key-admin" name="is_admin" label="Admin key" checked={isAdmin} onChecked={setIsAdmin} error={save.error} />
        </div>
        <PermissionPicker id="edit-key-permission" level="key" value={permission} onChange={setPermission} registry={registry.data} error={save.error} />
        <div class="wide">
          <FormError error={save.error ?? block.error ?? remove.error} fields={KEY_FIELDS} />
          <div class="actions">
            <button type="submit" disabled={save.pending}>
              {save.pending ? 'Saving…' : 'Save changes'}
            </button>
            <button type="button" class="secondary" onClick={() => void block.submit()} disabled={block.pending}>
              {info.blocked ? 'Unblock' : 'Block'}
            </button>
            {confirming ? (
              <>
                <button type="button" class="danger" onClick={() => void remove.submit()} disabled={remove.pending}>
                  Delete this key for good
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
          </div>
        </div>
      </form>
    </section>
  );
}
