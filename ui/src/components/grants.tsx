import { del, get, query, type UpstreamGrant } from '../api';
import { useLoad, useSubmit } from '../hooks';
import { Badge, Loading, when } from './layout';
import { FormError } from './fields';

/**
 * A user's connections to per-user OAuth servers (their upstream grants): which server, whether tokens are held,
 * which clients the user approved; "Revoke" deletes the tokens and approvals and revokes them at the authorization
 * server (DELETE /v1/mcp/oauth/{server}/grant?user_id=). Tokens are never shown: the API has none to give.
 */
export function UpstreamGrants(props: { userId: string }) {
  const grants = useLoad((signal) => get<{ grants: UpstreamGrant[] }>(`/v1/mcp/oauth/grants${query({ user_id: props.userId })}`, { signal }).then((r) => r.grants), [props.userId]);
  const revoke = useSubmit(async (server: string) => {
    await del(`/v1/mcp/oauth/${encodeURIComponent(server)}/grant${query({ user_id: props.userId })}`);
    grants.reload();
  });
  if (grants.error) {
    return (
      <div class="alert error" role="alert">
        {grants.error.message}
      </div>
    );
  }
  if (!grants.data) return <Loading what="the connections" />;
  if (grants.data.length === 0) return <p data-no-grants>No connections: user {props.userId} has authorized no per-user OAuth server.</p>;
  return (
    <>
      <div class="table-wrap" role="region" aria-label="Upstream OAuth connections" tabIndex={0}>
        <table class="stack">
          <thead>
            <tr>
              <th scope="col">Server</th>
              <th scope="col">Tokens</th>
              <th scope="col">Scope</th>
              <th scope="col">Authorized</th>
              <th scope="col">Approved clients</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {grants.data.map((grant) => (
              <tr key={grant.server_id} data-grant={grant.server_name}>
                <th scope="row">{grant.server_name}</th>
                <td data-label="Tokens">{grant.has_token ? <Badge tone="ok">held</Badge> : <Badge tone="neutral">none</Badge>}</td>
                <td data-label="Scope">{grant.scope ?? '—'}</td>
                <td data-label="Authorized">{when(grant.authorized_at)}</td>
                <td data-label="Approved clients">{grant.clients.map((c) => c.client_name ?? c.client_id).join(', ') || '—'}</td>
                <td>
                  <button type="button" class="danger small" disabled={revoke.pending} onClick={() => void revoke.submit(grant.server_name)} aria-label={`Revoke the connection to ${grant.server_name}`}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <FormError error={revoke.error} />
    </>
  );
}
