import { useState } from 'preact/hooks';
import { get, post, query, type ObjectPermission, type OrganizationInfo, type TeamInfo } from '../api';
import { FormError, TextField } from '../components/fields';
import { Link, Loading, PageTitle } from '../components/layout';
import { PermissionPicker, permissionSummary, useRegistry } from '../components/permissions';
import { useLoad, useSubmit } from '../hooks';
import { navigate } from '../router';

const ORG_FIELDS = ['organization_alias', 'rpm_limit', 'object_permission'];
const limit = (text: string): number | string | null => (text.trim() === '' ? null : /^\d+$/.test(text.trim()) ? Number(text.trim()) : text);

function OrganizationForm(props: { id: string; initial?: OrganizationInfo; submitLabel: string; onSubmit: (body: Record<string, unknown>) => Promise<unknown> }) {
  const registry = useRegistry();
  const initial = props.initial;
  const [alias, setAlias] = useState(initial?.organization_alias ?? '');
  const [rpm, setRpm] = useState(initial?.rpm_limit == null ? '' : String(initial.rpm_limit));
  const [permission, setPermission] = useState<ObjectPermission | null>(initial?.object_permission ?? null);
  const submit = useSubmit(async () => {
    const body: Record<string, unknown> = { organization_alias: alias.trim(), object_permission: permission };
    if (initial || rpm.trim()) body.rpm_limit = limit(rpm);
    await props.onSubmit(body);
    if (!initial) {
      setAlias('');
      setRpm('');
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
      <TextField id={`${props.id}-alias`} name="organization_alias" label="Organization name" value={alias} onValue={setAlias} error={submit.error} required />
      <TextField id={`${props.id}-rpm`} name="rpm_limit" label="Requests per minute (shared)" inputMode="numeric" value={rpm} onValue={setRpm} error={submit.error} hint="Empty: unlimited." />
      <PermissionPicker id={`${props.id}-permission`} level="organization" value={permission} onChange={setPermission} registry={registry.data} error={submit.error} />
      <div class="wide">
        <FormError error={submit.error} fields={ORG_FIELDS} />
        <button type="submit" disabled={submit.pending}>
          {submit.pending ? 'Saving…' : props.submitLabel}
        </button>
      </div>
    </form>
  );
}

export function OrganizationsPage() {
  const [version, setVersion] = useState(0);
  const organizations = useLoad((signal) => get<{ organizations: OrganizationInfo[] }>('/organization/list', { signal }).then((r) => r.organizations), [version]);
  const [created, setCreated] = useState<OrganizationInfo | undefined>();
  return (
    <>
      <PageTitle>Organizations</PageTitle>
      <section class="card" aria-labelledby="new-org-title">
        <h2 id="new-org-title">Create an organization</h2>
        <OrganizationForm
          id="org-new"
          submitLabel="Create organization"
          onSubmit={async (body) => {
            setCreated(await post<OrganizationInfo>('/organization/new', body));
            setVersion((v) => v + 1);
          }}
        />
        {created ? (
          <p class="alert success" role="status">
            Created organization <Link href={`/organizations/${encodeURIComponent(created.organization_id)}`}>{created.organization_alias}</Link>.
          </p>
        ) : null}
      </section>
      <section class="card" aria-labelledby="orgs-title">
        <h2 id="orgs-title">All organizations</h2>
        {organizations.error ? (
          <div class="alert error" role="alert">
            {organizations.error.message}
          </div>
        ) : !organizations.data ? (
          <Loading what="organizations" />
        ) : organizations.data.length === 0 ? (
          <p>No organization yet.</p>
        ) : (
          <div class="table-wrap" role="region" aria-label="Organizations" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Organization</th>
                  <th scope="col">Requests per minute</th>
                  <th scope="col">MCP servers (organization level)</th>
                </tr>
              </thead>
              <tbody>
                {organizations.data.map((org) => (
                  <tr key={org.organization_id} data-organization={org.organization_alias}>
                    <th scope="row">
                      <Link href={`/organizations/${encodeURIComponent(org.organization_id)}`}>{org.organization_alias}</Link>
                    </th>
                    <td>{org.rpm_limit ?? 'unlimited'}</td>
                    <td>{permissionSummary(org.object_permission)}</td>
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

export function OrganizationPage(props: { organizationId: string }) {
  const [version, setVersion] = useState(0);
  const info = useLoad(
    (signal) => get<OrganizationInfo & { updated_at: string; teams: TeamInfo[] }>(`/organization/info${query({ organization_id: props.organizationId })}`, { signal }),
    [props.organizationId, version],
  );
  const [confirming, setConfirming] = useState(false);
  const org = info.data;
  const remove = useSubmit(async () => {
    await post('/organization/delete', { organization_ids: [props.organizationId] });
    navigate('/organizations');
  });
  return (
    <>
      <PageTitle
        actions={
          org ? (
            confirming ? (
              <>
                <button type="button" class="danger" onClick={() => void remove.submit()}>
                  Delete this organization for good
                </button>
                <button type="button" class="secondary" onClick={() => setConfirming(false)}>
                  Keep it
                </button>
              </>
            ) : (
              <button type="button" class="danger" onClick={() => setConfirming(true)}>
                Delete
              </button>
            )
          ) : null
        }
      >
        {org ? `Organization ${org.organization_alias}` : 'Organization'}
      </PageTitle>
      <FormError error={info.error ?? remove.error} />
      {!org ? (
        info.error ? null : <Loading what="the organization" />
      ) : (
        <>
          <section class="card" aria-labelledby="org-settings-title">
            <h2 id="org-settings-title">Settings</h2>
            <OrganizationForm key={org.updated_at} id="org-edit" initial={org} submitLabel="Save changes" onSubmit={async (body) => {
              await post('/organization/update', { organization_id: props.organizationId, ...body });
              setVersion((v) => v + 1);
            }} />
          </section>
          <section class="card" aria-labelledby="org-teams-title">
            <h2 id="org-teams-title">Its teams</h2>
            {org.teams.length === 0 ? (
              <p>No team in this organization.</p>
            ) : (
              <ul>
                {org.teams.map((team) => (
                  <li key={team.team_id}>
                    <Link href={`/teams/${encodeURIComponent(team.team_id)}`}>{team.team_alias ?? team.team_id}</Link>
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
