import { describe, expect, it } from 'vitest';
import { unknownNames } from './known-servers.js';

const servers = [
  { server_id: '11111111-1111-4111-8111-111111111111', server_name: 'github', access_groups: ['dev'] },
  { server_id: '22222222-2222-4222-8222-222222222222', server_name: 'jira', access_groups: ['dev', 'ops'] },
];

describe('unknownNames', () => {
  it('accepts servers by name or id, and access groups some server is in', () => {
    expect(unknownNames({ mcp_servers: ['github', servers[1]!.server_id], mcp_access_groups: ['ops'], mcp_tool_permissions: { jira: ['search'] } }, servers)).toEqual([]);
  });

  it('names every unknown server, access group and tool-permission server with its field', () => {
    expect(unknownNames({ mcp_servers: ['github', 'gitlab'], mcp_access_groups: ['dev', 'sales'], mcp_tool_permissions: { Jira: ['search'] } }, servers)).toEqual([
      { field: 'object_permission.mcp_servers', value: 'gitlab', message: 'no MCP server "gitlab"' },
      { field: 'object_permission.mcp_access_groups', value: 'sales', message: 'no MCP server is in access group "sales"' },
      { field: 'object_permission.mcp_tool_permissions', value: 'Jira', message: 'no MCP server "Jira"' },
    ]);
  });
});
