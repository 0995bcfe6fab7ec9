import { describe, expect, it } from 'vitest';
import { readDeployments } from '../models/deployments.js';
import { toChunks, toCompletion, toMessagesRequest } from './anthropic.provider.js';

const [deployment] = readDeployments([{ model_name: 'claude', litellm_params: { model: 'anthropic/claude-x', max_tokens: 512 } }]);

describe('Anthropic translation', () => {
  it('turns a chat request into a Messages request: system apart, tool calls as tool_use, results as one user turn', () => {
    const request = toMessagesRequest(
      deployment!,
      {
        model: 'claude',
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'add' },
          { role: 'assistant', content: 'calling', tool_calls: [{ id: 't1', type: 'function', function: { name: 'add', arguments: '{"a":1}' } }, { id: 't2', type: 'function', function: { name: 'add', arguments: '' } }] },
          { role: 'tool', tool_call_id: 't1', content: '1' },
          { role: 'tool', tool_call_id: 't2', content: '2' },
          { role: 'user', content: [{ type: 'text', text: 'and?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
        ],
        tools: [{ type: 'function', function: { name: 'add', parameters: { type: 'object' } } }],
        tool_choice: 'required',
        parallel_tool_calls: false,
        stop: 'END',
      },
      true,
    );
    expect(request).toEqual({
      model: 'claude-x',
      max_tokens: 512,
      system: 'be brief',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'add' }] },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'calling' },
            { type: 'tool_use', id: 't1', name: 'add', input: { a: 1 } },
            { type: 'tool_use', id: 't2', name: 'add', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 't1', content: '1' },
            { type: 'tool_result', tool_use_id: 't2', content: '2' },
            { type: 'text', text: 'and?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
          ],
        },
      ],
      tools: [{ name: 'add', input_schema: { type: 'object' } }],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      stop_sequences: ['END'],
      stream: true,
    });
  });

  it('turns a message into a chat completion: text, tool calls, stop reason, usage', () => {
    const completion = toCompletion({
      id: 'msg_1',
      model: 'claude-x',
      content: [
        { type: 'text', text: 'ok' },
        { type: 'tool_use', id: 'toolu_1', name: 'add', input: { a: 1 } },
      ],
      stop_reason: 'tool_use',
      usage: { input_tokens: 10, output_tokens: 3, cache_read_input_tokens: 2 },
    });
    expect(completion.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: { role: 'assistant', content: 'ok', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'add', arguments: '{"a":1}' } }] },
    });
    expect(completion.usage).toEqual({ prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 });
  });

  it('turns stream events into chunks: text deltas, tool calls by their own index, finish and usage', async () => {
    const events = [
      { type: 'message_start', message: { id: 'msg_1', model: 'claude-x', usage: { input_tokens: 5 } } },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi' } },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'add', input: {} } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"a"' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: ':1}' } },
      { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 7 } },
      { type: 'message_stop' },
    ];
    const chunks = [];
    for await (const chunk of toChunks((async function* () { for (const e of events) yield { event: e.type, data: JSON.stringify(e) }; })(), 'anthropic')) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta ?? null)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'hi' },
      { tool_calls: [{ index: 0, id: 'toolu_1', type: 'function', function: { name: 'add', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"a"' } }] },
      { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] },
      {},
      null,
    ]);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 });
  });
});
