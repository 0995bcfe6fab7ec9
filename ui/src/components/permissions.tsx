import { get, type ApiError, type ObjectPermission, type ServerView, type Tool } from '../api';
import { useLoad } from '../hooks';
import { CheckboxField, CheckList } from './fields';

/** What a permission can name: the registry's servers, access groups and each server's tools. */
export interface Registry {
  servers: string[];
  groups: { name: string; servers: string[] }[];
  tools: Map<string, string[]>;
}

export function useRegistry() {
  return useLoad(async (signal): Promise<Registry> => {
    const [servers, groups, tools] = await Promise.all([
      get<ServerView[]>('/v1/mcp/server', { signal }),
      get<{ access_groups: { name: string; servers: string[] }[] }>('/v1/mcp/access_groups', { signal }),
      get<{ tools: Tool[] }>('/v1/mcp/tools', { signal }),
    ]);
    const byServer = new Map<string, string[]>();
    for (const tool of tools.tools) {
      const server = tool.mcp_info?.server_name;
      if (!server) continue;
      byServer.set(server, [...(byServer.get(server) ?? []), tool.mcp_info!.tool_name]);
    }
    return { servers: servers.map((s) => s.server_name).sort(), groups: groups.access_groups, tools: byServer };
  }, []);
}

const EMPTY_PERMISSION: ObjectPermission = { mcp_servers: [], mcp_access_groups: [], mcp_tool_permissions: {} };

/**
 * One level's object_permission, picked from the registry. Not set: the level adds no restriction. Set: exactly the
 * servers and groups picked (nothing picked allows nothing), and per server, optionally, only some of its tools.
 */
export function PermissionPicker(props: { id: string; level: string; value: ObjectPermission | null; onChange: (value: ObjectPermission | null) => void; registry: Registry | undefined; error: ApiError | undefined }) {
  const value = props.value;
  const registry = props.registry;
  const set = (patch: Partial<ObjectPermission>) => props.onChange({ ...(value ?? EMPTY_PERMISSION), ...patch });
  return (
    <fieldset class="permission-picker wide">
      <legend>MCP access of this {props.level}</legend>
      <CheckboxField
        id={`${props.id}-set`}
        label={`Limit the MCP servers of this ${props.level}`}
        checked={value !== null}
        onChecked={(on) => props.onChange(on ? { ...EMPTY_PERMISSION } : null)}
        hint={value === null ? `Not limited here: this ${props.level} adds no restriction (the other levels still apply; with no level set a key may use no server but those open to every key).` : `Only what is picked below; nothing picked allows nothing.`}
      />
      {value !== null ? (
        <>
          <CheckList
            id={`${props.id}-servers`}
            legend="Allowed MCP servers"
            name="object_permission.mcp_servers"
            error={props.error}
            options={(registry?.servers ?? []).map((s) => ({ value: s }))}
            selected={value.mcp_servers}
            onSelected={(mcp_servers) => {
              const tools = Object.fromEntries(Object.entries(value.mcp_tool_permissions).filter(([server]) => mcp_servers.includes(server)));
              set({ mcp_servers, mcp_tool_permissions: tools });
            }}
            empty="No MCP server in the registry yet."
          />
          <CheckList
            id={`${props.id}-groups`}
            legend="Allowed access groups"
            name="object_permission.mcp_access_groups"
            error={props.error}
            options={(registry?.groups ?? []).map((g) => ({ value: g.name, note: `(${g.servers.join(', ')})` }))}
            selected={value.mcp_access_groups}
            onSelected={(mcp_access_groups) => set({ mcp_access_groups })}
            empty="No access group yet (a server's form creates them)."
          />
          {value.mcp_servers.map((server) => {
            const limited = value.mcp_tool_permissions[server];
            return (
              <div class="tool-permission" key={server}>
                <CheckboxField
                  id={`${props.id}-limit-${server}`}
                  label={`Only some tools of ${server}`}
                  checked={limited !== undefined}
                  onChecked={(on) => {
                    const next = { ...value.mcp_tool_permissions };
                    if (on) next[server] = [];
                    else delete next[server];
                    set({ mcp_tool_permissions: next });
                  }}
                />
                {limited !== undefined ? (
                  <CheckList
                    id={`${props.id}-tools-${server}`}
                    legend={`Tools of ${server}`}
                    name="object_permission.mcp_tool_permissions"
                    error={props.error}
                    options={(registry?.tools.get(server) ?? []).map((t) => ({ value: t }))}
                    selected={limited}
                    onSelected={(tools) => set({ mcp_tool_permissions: { ...value.mcp_tool_permissions, [server]: tools } })}
                    empty="The server lists no tool right now."
                  />
                ) : null}
              </div>
            );
          })}
        </>
      ) : null}
    </fieldset>
  );
}

export function permissionSummary(permission: ObjectPermission | null): string {
  if (!permission) return 'not limited';
  const parts = [...permission.mcp_servers, ...permission.mcp_access_groups.map((g) => `group ${g}`)];
  return parts.length ? parts.join(', ') : 'nothing';
}

interface Explanation {
  key: { key_alias: string | null; team_id: string | null; organization_id: string | null };
  levels: { key: ObjectPermission | null; team: ObjectPermission | null; organization: ObjectPermission | null };
  is_master: boolean;
  servers: {
    server_id: string;
    server_name: string;
    allowed: boolean;
    granted_by: string[];
    removed_by: { level: string; reason: string }[];
    tools: string[];
    removed_tools: { tool: string; removed_by: { level: string; reason: string }[] }[];
  }[];
}

const REASONS: Record<string, string> = {
  not_in_mcp_servers_or_access_groups: 'not in its servers or access groups',
  no_level_set: 'no level is set (deny by default)',
  not_in_x_mcp_servers: 'not in x-mcp-servers',
  not_in_mcp_tool_permissions: 'not in its tool permissions',
  not_in_allowed_tools: "not in the server's allowed_tools",
  in_disallowed_tools: "in the server's disallowed_tools",
};
const removal = (r: { level: string; reason: string }) => `${r.level === 'default' ? '' : `${r.level}: `}${REASONS[r.reason] ?? r.reason}`;

/** GET /v1/mcp/permissions?key=: each level as set, then each server and tool and what removed it. */
export function EffectivePermissions(props: { keyRef: string; version: string }) {
  const explained = useLoad((signal) => get<Explanation>(`/v1/mcp/permissions?key=${encodeURIComponent(props.keyRef)}`, { signal }), [props.keyRef, props.version]);
  if (explained.error) {
    return (
      <div class="alert error" role="alert">
        {explained.error.message}
      </div>
    );
  }
  const data = explained.data;
  if (!data) return <p class="muted">Loading the effective permissions…</p>;
  return (
    <>
      <h3>Level by level</h3>
      <div class="table-wrap" role="region" aria-label="Permission levels" tabIndex={0}>
        <table>
          <thead>
            <tr>
              <th scope="col">Level</th>
              <th scope="col">Servers</th>
              <th scope="col">Access groups</th>
              <th scope="col">Tool permissions</th>
            </tr>
          </thead>
          <tbody>
            {(['key', 'team', 'organization'] as const).map((level) => {
              const p = data.levels[level];
              return (
                <tr key={level}>
                  <th scope="row">{level}</th>
                  {p ? (
                    <>
                      <td>{p.mcp_servers.join(', ') || 'none'}</td>
                      <td>{p.mcp_access_groups.join(', ') || 'none'}</td>
                      <td>
                        {Object.entries(p.mcp_tool_permissions)
                          .map(([s, t]) => `${s}: ${t.join(', ') || 'none'}`)
                          .join('; ') || '—'}
                      </td>
                    </>
                  ) : (
                    <td colSpan={3} class="muted">
                      not set (adds no restriction)
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <h3>Effective servers and tools</h3>
      <div class="table-wrap" role="region" aria-label="Effective servers" tabIndex={0}>
        <table data-effective-servers>
          <thead>
            <tr>
              <th scope="col">Server</th>
              <th scope="col">May use</th>
              <th scope="col">Why</th>
              <th scope="col">Tools</th>
            </tr>
          </thead>
          <tbody>
            {data.servers.map((s) => (
              <tr key={s.server_id} data-server={s.server_name} data-allowed={String(s.allowed)}>
                <th scope="row">{s.server_name}</th>
                <td>{s.allowed ? 'yes' : 'no'}</td>
                <td>{s.allowed ? `granted by ${s.granted_by.join(', ')}` : s.removed_by.map(removal).join('; ')}</td>
                <td>
                  {s.allowed ? s.tools.join(', ') || 'none' : '—'}
                  {s.removed_tools.length ? <div class="muted small">removed: {s.removed_tools.map((t) => `${t.tool} (${t.removed_by.map(removal).join('; ')})`).join(', ')}</div> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
