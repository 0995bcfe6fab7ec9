import { Inject, Injectable } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { DomainError, ListServers, type McpServerView, type ObjectPermission } from '#libs/contracts';

const REGISTRY_TIMEOUT_MS = 5_000;

type KnownServer = Pick<McpServerView, 'server_id' | 'server_name' | 'access_groups'>;
export interface UnknownName {
  field: string;
  value: string;
  message: string;
}

/** Every server (name or id) and access group `permission` names that none of `servers` answers to. */
export function unknownNames(permission: ObjectPermission, servers: readonly KnownServer[]): UnknownName[] {
  const refs = new Set(servers.flatMap((s) => [s.server_name, s.server_id]));
  const groups = new Set(servers.flatMap((s) => s.access_groups));
  const unknownServer = (field: string) => (value: string) => refs.has(value) ? [] : [{ field, value, message: `no MCP server "${value}"` }];
  return [
    ...permission.mcp_servers.flatMap(unknownServer('object_permission.mcp_servers')),
    ...permission.mcp_access_groups.flatMap((value) =>
      groups.has(value) ? [] : [{ field: 'object_permission.mcp_access_groups', value, message: `no MCP server is in access group "${value}"` }],
    ),
    ...Object.keys(permission.mcp_tool_permissions).flatMap(unknownServer('object_permission.mcp_tool_permissions')),
  ];
}

/**
 * object_permission may name only servers and access groups the registry knows (SPEC section 4): a typo would
 * otherwise grant nothing without a word, and a name that appears later is granted by an update, not in advance.
 */
@Injectable()
export class KnownServers {
  constructor(@Inject(Bus) private readonly bus: Bus) {}

  /** INVALID_ARGUMENT naming each unknown field and value; nothing to ask when `permission` names nothing. */
  async assertKnown(permission: ObjectPermission | null | undefined): Promise<void> {
    if (!permission) return;
    const names = permission.mcp_servers.length + permission.mcp_access_groups.length + Object.keys(permission.mcp_tool_permissions).length;
    if (names === 0) return;
    const { servers } = await this.bus.call(ListServers, {}, { timeoutMs: REGISTRY_TIMEOUT_MS });
    const unknown = unknownNames(permission, servers);
    if (unknown.length === 0) return;
    throw new DomainError('INVALID_ARGUMENT', unknown.map((u) => `${u.field}: ${u.message}`).join('\n'), {
      field: unknown[0]!.field,
      value: unknown[0]!.value,
      unknown: unknown.map(({ field, value }) => ({ field, value })),
    });
  }
}
