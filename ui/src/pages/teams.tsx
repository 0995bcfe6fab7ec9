import { useState } from 'preact/hooks';
import { get, post, query, type KeyInfo, type ObjectPermission, type OrganizationInfo, type TeamInfo } from '../api';
import { FormError, SelectField, TextField } from '../components/fields';
import { Badge, Link, Loading, PageTitle, when } from '../components/layout';
import { PermissionPicker, permissionSummary, useRegistry } from '../components/permissions';
import { useLoad, useSubmit } from '../hooks';
import { navigate } from '../router';

const TEAM_FIELDS = ['team_alias', 'organization_id', 'rpm_limit', 'max_parallel_requests', 'object_permission'];
const limit = (text: string): number | string | null => (text.trim() === '' ? null : /^\d+$/.test(text.trim()) ? Number(text.trim()) : text);

function useOrganizations() {
  return useLoad((signal) => get<{ organizations: OrganizationInfo[] }>('/organization/list', { signal }).then((r) => r.organizations), []);
}

interface TeamFormProps {
  id: string;
  initial?: TeamInfo;
  submitLabel: string;
  onSubmit: (body: Record<string, unknown>) => Promise<unknown>;
}

function TeamForm(props: TeamFormProps) {
  const organizations = useOrganizations();
  const registry = useRegistry();
  const initial = props.initial;
  const [alias, setAlias] = useState(initial?.team_alias ?? '');
  const [organizationId, setOrganizationId] = useState(initial?.organization_id ?? '');
  const [rpm, setRpm] = useState(initial?.rpm_limit == null ? '' : String(initial.rpm_limit));
  const [parallel, setParallel] = useState(initial?.max_parallel_requests == null ? '' : String(initial.max_parallel_requests));
  const [permission, setPermission] = useState<ObjectPermission | null>(initial?.object_permission ?? null);
  const submit = useSubmit(async () => {
    const body: Record<string, unknown> = initial
      ? { team_alias: alias.trim() || null, organization_id: organizationId || null, rpm_limit: limit(rpm), max_parallel_requests: limit(parallel), object_permission: permission }
      : { object_permission: permission };
    if (!initial) {
      if (alias.trim()) body.team_alias = alias.trim();
      if (organizationId) body.organization_id = organizationId;
      if (rpm.trim()) body.rpm_limit = limit(rpm);
      if (parallel.trim()) body.max_parallel_requests = limit(parallel);
    }
    await props.onSubmit(body);
    if (!initial) {
      setAlias('');
      setRpm('');
      setParallel('');
      setPermission(null);
    }
  });
  return (
    <form
      class="form-grid"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void submit.submit();
      }}
    >
      <TextField id={`${props.id}-alias`} name="team_alias" label="Team name" value={alias} onValue={setAlias} error={submit.error} />
      <SelectField
        id={`${props.id}-organization`}
        name="organization_id"
        label="Organization"
        value={organizationId}
        onValue={setOrganizationId}
        error={submit.error}
        options={[['', 'No organization'], ...(organizations.data ?? []).map((o): [string, string] => [o.organization_id, o.organization_alias])]}
      />
      <TextField id={`${props.id}-rpm`} name="rpm_limit" label="Requests per minute (shared)" inputMode="numeric" value={rpm} onValue={setRpm} error={submit.error} hint="Empty: unlimited." />
      <TextField id={`${props.id}-parallel`} name="max_parallel_requests" label="Parallel requests (shared)" inputMode="numeric" value={parallel} onValue={setParallel} error={submit.error} hint="Empty: unlimited." />
      <PermissionPicker id={`${props.id}-permission`} level="team" value={permission} onChange={setPermission} registry={registry.data} error={submit.error} />
      <div class="wide">
        <FormError error={submit.error} fields={TEAM_FIELDS} />
        <button type="submit" disabled={submit.pending}>
          {submit.pending ? 'Saving…' : props.submitLabel}
        </button>
      </div>
    </form>
  );
}

export function TeamsPage() {
  const [version, setVersion] = useState(0);
  const teams = useLoad((signal) => get<{ teams: TeamInfo[] }>('/team/list', { signal }).then((r) => r.teams), [version]);
  const organizations = useOrganizations();
  const [created, setCreated] = useState<TeamInfo | undefined>();
  const orgName = (id: string | null) => (id ? (organizations.data?.find((o) => o.organization_id === id)?.organization_alias ?? id) : '—');
  return (
    <>
      <PageTitle>Teams</PageTitle>
      <section class="card" aria-labelledby="new-team-title">
        <h2 id="new-team-title">Create a team</h2>
        <TeamForm
          id="team-new"
          submitLabel="Create team"
          onSubmit={async (body) => {
            setCreated(await post<TeamInfo>('/team/new', body));
            setVersion((v) => v + 1);
          }}
        />
        {created ? (
          <p class="alert success" role="status">
            Created team <Link href={`/teams/${encodeURIComponent(created.team_id)}`}>{created.team_alias ?? created.team_id}</Link>.
          </p>
        ) : null}
      </section>
      <section class="card" aria-labelledby="teams-title">
        <h2 id="teams-title">All teams</h2>
        {teams.error ? (
          <div class="alert error" role="alert">
            {teams.error.message}
          </div>
        ) : !teams.data ? (
          <Loading what="teams" />
        ) : teams.data.length === 0 ? (
          <p>No team yet.</p>
        ) : (
          <div class="table-wrap" role="region" aria-label="Teams" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Team</th>
                  <th scope="col">Organization</th>
                  <th scope="col">Status</th>
                  <th scope="col">MCP servers (team level)</th>
                </tr>
              </thead>
              <tbody>
                {teams.data.map((team) => (
                  <tr key={team.team_id} data-team={team.team_alias ?? team.team_id}>
                    <th scope="row">
                      <Link href={`/teams/${encodeURIComponent(team.team_id)}`}>{team.team_alias ?? team.team_id}</Link>
                    </th>
                    <td>{orgName(team.organization_id)}</td>
                    <td>{team.blocked ? <Badge tone="bad">blocked</Badge> : <Badge tone="ok">active</Badge>}</td>
                    <td>{permissionSummary(team.object_permission)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

export function TeamPage(props: { teamId: string }) {
  const [version, setVersion] = useState(0);
  const info = useLoad((signal) => get<{ team_info: TeamInfo & { updated_at: string }; keys: KeyInfo[] }>(`/team/info${query({ team_id: props.teamId })}`, { signal }), [props.teamId, version]);
  const [confirming, setConfirming] = useState(false);
  const team = info.data?.team_info;
  const block = useSubmit(async () => {
    await post('/team/update', { team_id: props.teamId, blocked: !team!.blocked });
    setVersion((v) => v + 1);
  });
  const remove = useSubmit(async () => {
    await post('/team/delete', { team_ids: [props.teamId] });
    navigate('/teams');
  });
  return (
    <>
      <PageTitle
        actions={
          team ? (
            <>
              <button type="button" class="secondary" onClick={() => void block.submit()} disabled={block.pending}>
                {team.blocked ? 'Unblock' : 'Block'}
              </button>
              {confirming ? (
                <>
                  <button type="button" class="danger" onClick={() => void remove.submit()}>
                    Delete this team for good
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
        {team ? `Team ${team.team_alias ?? team.team_id}` : 'Team'}
      </PageTitle>
      <FormError error={info.error ?? block.error ?? remove.error} />
      {!team ? (
        info.error ? null : <Loading what="the team" />
      ) : (
        <>
          <section class="card" aria-labelledby="team-settings-title">
            <h2 id="team-settings-title">Settings {team.blocked ? <Badge tone="bad">blocked</Badge> : null}</h2>
            <TeamForm key={team.updated_at} id="team-edit" initial={team} submitLabel="Save changes" onSubmit={async (body) => {
              await post('/team/update', { team_id: props.teamId, ...body });
              setVersion((v) => v + 1);
            }} />
          </section>
          <section class="card" aria-labelledby="team-keys-title">
            <h2 id="team-keys-title">Its keys</h2>
            {info.data!.keys.length === 0 ? (
              <p>No key in this team.</p>
            ) : (
              <ul>
                {info.data!.keys.map((key) => (
                  <li key={key.token}>
                    <Link href={`/keys/${key.token}`}>{key.key_alias ?? key.key_name}</Link> <span class="muted">created {when(key.created_at)}</span>
                  </li>
                ))}
              </ul>
            )}
          </section>
        </>
      )}
    </>
  );
}
