import { describe, expect, it } from 'vitest';
import type { GrantedTool } from '#libs/contracts';
import { McpToolbox } from './mcp-toolbox.js';

const tool = (name: string, extra: Partial<GrantedTool> = {}): GrantedTool => ({ name, server_id: 's1', server_name: 's', tool: name, input_schema: { type: 'object' }, ...extra });

describe('McpToolbox', () => {
  it('offers valid, unique function names, stable whatever the order, and maps each back to its entry', () => {
    const entries = [
      { type: 'mcp', server_label: 'a', server_url: 'litellm_proxy/mcp/files' },
      { type: 'function', function: { name: 'echo' } },
      { type: 'mcp', server_label: 'b', server_url: 'litellm_proxy/mcp/other' },
    ];
    const grants = [
      { index: 0, tools: [tool('echo'), tool('files.read'), tool('x'.repeat(80))], forward_headers: {} },
      { index: 2, tools: [tool('echo', { server_id: 's2' })], forward_headers: {} },
    ];
    const sut = McpToolbox.fromRequest(entries, grants, ['echo']);
    const names = sut.offered.map((o) => o.functionName);
    for (const name of names) expect(name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    expect(new Set([...names, 'echo']).size).toBe(names.length + 1); // the caller's own "echo" keeps its name
    expect(names[1]).toBe('files_read');
    expect(sut.byFunctionName(names[3]!)).toMatchObject({ toolset: { label: 'b' }, tool: { server_id: 's2', name: 'echo' } });
    expect(sut.functionNameOf('a', 'files.read')).toBe('files_read');
    const again = McpToolbox.fromRequest(entries, grants, ['echo']);
    expect(again.offered.map((o) => o.functionName)).toEqual(names);
  });

  it('decides approval as OpenAI does: never, always, and per tool name or read-only hint', () => {
    const grants = [{ index: 0, tools: [tool('read', { annotations: { readOnlyHint: true } }), tool('write'), tool('listed')], forward_headers: {} }];
    const approvalOf = (require_approval: unknown) => {
      const sut = McpToolbox.fromRequest([{ type: 'mcp', server_label: 'gw', require_approval }], grants, []);
      return sut.offered.map((o) => sut.needsApproval(o));
    };
    expect(approvalOf('never')).toEqual([false, false, false]);
    expect(approvalOf('always')).toEqual([true, true, true]);
    expect(approvalOf(undefined)).toEqual([true, true, true]);
    expect(approvalOf({ never: { tool_names: ['listed'] } })).toEqual([true, true, false]);
    expect(approvalOf({ never: { read_only: true }, always: { tool_names: ['listed'] } })).toEqual([false, true, true]);
  });

  it('refuses malformed entries naming the field, and duplicate labels', () => {
    expect(() => McpToolbox.fromRequest([{ type: 'mcp', require_approval: 'maybe' }], [], [])).toThrow(/^tools\[0\]\.require_approval: /);
    expect(() => McpToolbox.fromRequest([{ type: 'mcp', server_label: 'x' }, { type: 'mcp', server_label: 'x' }], [], [])).toThrow(/server_label "x"/);
  });
});
