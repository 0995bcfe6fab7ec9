import { describe, expect, it } from 'vitest';
import { CreateServerRequest, DomainError, McpServerSpec, McpServerView, UpdateServerRequest } from '#libs/contracts';
import { definitionFromCreate, definitionFromSpec, mergeUpdate, sameDefinition, toRuntime, toView, type ServerRecord } from './server-definition.js';

const base = definitionFromSpec('github', McpServerSpec.parse({
  url: 'https://example.com/mcp',
  transport: 'http',
  auth_type: 'bearer_token',
  auth_value: 'ghp_0123456789abcdef',
  allowed_tools: ['create_issue'],
  access_groups: ['dev'],
  env: { TOKEN: 'x' },
  timeout: 30,
}));
const record: ServerRecord = {
  ...base,
  id: '6f1c5a52-0d5e-4a43-9a6f-1b3c5d7e9f01',
  source: 'config',
  created_at: new Date('2025-01-01T00:00:00Z'),
  updated_at: new Date('2025-01-02T00:00:00Z'),
};
const update = (patch: Record<string, unknown>) => UpdateServerRequest.parse({ server_id: record.id, ...patch });

describe('mergeUpdate (PUT semantics)', () => {
  it('keeps every field the request leaves out (no defaults applied)', () => {
    const merged = mergeUpdate(record, update({ description: 'GitHub' }));
    expect(merged).toEqual({ ...base, description: 'GitHub' });
  });

  it('replaces given fields and clears the ones sent as null', () => {
    const merged = mergeUpdate(record, update({ allowed_tools: null, disallowed_tools: ['delete_repo'], timeout: null }));
    expect(merged.allowed_tools).toBeNull();
    expect(merged.disallowed_tools).toEqual(['delete_repo']);
    expect(merged.timeout).toBeNull();
    expect(merged.url).toBe('https://example.com/mcp');
  });

  it('takes mcp_access_groups as access_groups', () => {
    expect(mergeUpdate(record, update({ mcp_access_groups: ['ops'] })).access_groups).toEqual(['ops']);
    expect(mergeUpdate(record, update({ access_groups: ['a'], mcp_access_groups: ['b'] })).access_groups).toEqual(['a']);
  });

  it('re-validates cross-field rules on the merged result and names the field', () => {
    const both = () => mergeUpdate(record, update({ disallowed_tools: ['x'] }));
    expect(both).toThrow(DomainError);
    expect(both).toThrow(/disallowed_tools: set allowed_tools or disallowed_tools, not both/);
    try {
      mergeUpdate(record, update({ transport: 'stdio' }));
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'command' } });
    }
    expect(() => mergeUpdate(record, update({ url: null }))).toThrow(/url: required when transport is http/);
  });

  it('does not modify the stored definition', () => {
    mergeUpdate(record, update({ args: ['a'] }));
    expect(record.args).toEqual([]);
  });
});

describe('definitionFromCreate', () => {
  it('accepts mcp_access_groups as access_groups', () => {
    const request = CreateServerRequest.parse({ server_name: 'deepwiki', url: 'https://mcp.deepwiki.com/mcp', mcp_access_groups: ['docs'] });
    expect(definitionFromCreate(request)).toMatchObject({ server_name: 'deepwiki', access_groups: ['docs'], auth_value: null });
  });

  it('infers a missing transport from the URL: http for a path ending in /mcp, sse otherwise (LiteLLM’s default)', () => {
    const transportOf = (url: string) => definitionFromCreate(CreateServerRequest.parse({ server_name: 's', url })).transport;
    expect(transportOf('https://mcp.deepwiki.com/mcp')).toBe('http');
    expect(transportOf('https://example.com/v1/mcp/?session=x')).toBe('http');
    expect(transportOf('https://mcp.deepwiki.com/sse')).toBe('sse');
    expect(transportOf('https://example.com/mcp/tools')).toBe('sse');
    expect(transportOf('https://example.com/mcpx')).toBe('sse');
    expect(definitionFromCreate(CreateServerRequest.parse({ server_name: 's', url: 'https://example.com/mcp', transport: 'sse' })).transport).toBe('sse');
    expect(definitionFromSpec('s', McpServerSpec.parse({ url: 'http://127.0.0.1:9/mcp' })).transport).toBe('http');
  });
});

describe('views', () => {
  it('mask credentials and env values and satisfy the contract', () => {
    const view = toView(record);
    expect(McpServerView.parse(view)).toBeTruthy();
    expect(view.auth_value).toBe('****cdef');
    expect(view.env).toEqual({ TOKEN: '****' });
    expect(view.mcp_access_groups).toEqual(['dev']);
    expect(JSON.stringify(view)).not.toContain('ghp_0123456789');
  });

  it('give connectors the secrets and a revision that changes with updated_at', () => {
    const runtime = toRuntime(record);
    expect(runtime.auth_value).toBe('ghp_0123456789abcdef');
    expect(runtime.env).toEqual({ TOKEN: 'x' });
    expect(toRuntime({ ...record, updated_at: new Date('2025-01-03T00:00:00Z') }).revision).not.toBe(runtime.revision);
  });
});

describe('sameDefinition', () => {
  it('compares by content, whatever the key order', () => {
    const reordered = Object.fromEntries(Object.entries(base).reverse()) as typeof base;
    expect(sameDefinition(base, reordered)).toBe(true);
    expect(sameDefinition(base, { ...base, static_headers: { a: 'b' } })).toBe(false);
  });
});
