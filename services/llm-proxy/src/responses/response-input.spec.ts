import { describe, expect, it } from 'vitest';
import { McpToolbox } from '../tools/mcp-toolbox.js';
import { convertInput } from './response-input.js';

const toolbox = McpToolbox.fromRequest(
  [{ type: 'mcp', server_label: 'gw' }],
  [{ index: 0, tools: [{ name: 'files.read', server_id: 's', server_name: 'files', tool: 'read', input_schema: {} }], forward_headers: {} }],
  [],
);

describe('convertInput', () => {
  it('turns Responses input items into chat messages', () => {
    const { messages, answers } = convertInput(
      [
        { role: 'developer', content: 'rules' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi ' }, { type: 'input_text', text: 'there' }] },
        { type: 'function_call', call_id: 'c1', name: 'mine', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: 'done' },
        { type: 'mcp_list_tools', id: 'l1' },
        { type: 'mcp_call', id: 'm1', server_label: 'gw', name: 'files.read', arguments: '{}', output: 'text' },
        { type: 'mcp_approval_response', approval_request_id: 'r1', approve: false, reason: 'no' },
      ] as never,
      toolbox,
    );
    expect(messages).toEqual([
      { role: 'system', content: 'rules' },
      { role: 'user', content: 'hi there' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'mine', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'done' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'm1', type: 'function', function: { name: 'files_read', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'm1', content: 'text' },
    ]);
    expect(answers.get('r1')).toEqual({ approve: false, reason: 'no', index: 6 });
  });

  it('refuses item and content types it cannot carry, naming them', () => {
    expect(() => convertInput([{ type: 'item_reference', id: 'x' }] as never, toolbox)).toThrow(/^input\[0\]\.type: "item_reference"/);
    expect(() => convertInput([{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] as never, toolbox)).toThrow(/^input\[0\]\.content\[0\]\.type/);
  });
});
