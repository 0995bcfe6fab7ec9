import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnthropicProvider } from '../fixtures/anthropic-provider.js';
import type { ProviderFixture } from '../fixtures/provider-server.js';
import { MODES, generateKey, printLogsOnFailure, startEverything, startSuite, type Suite } from './support/index.js';
import { messageText, waitForTools } from './support/llm.js';

// Issue 10, done-means 2: the same loops as llm-chat and llm-responses against an `anthropic/…` model, whose
// provider is the scripted Messages API fixture: the gateway translates requests (system, tools, tool_use and
// tool_result turns, tool_choice) and answers (content blocks, stop reasons, usage, stream events) both ways.

const PROVIDER_KEY = 'sk-ant-provider-secret-0123456789';
const SUM_PROMPT = 'please call get-sum with {"a":2,"b":3}';
const SUM = 'The sum of 2 and 3 is 5.';
const MCP_TOOL = { type: 'mcp', server_label: 'switchboard', server_url: 'litellm_proxy' } as const;

describe.each(MODES)('%s', (mode) => {
  let suite: Suite | undefined;
  let provider: ProviderFixture;
  let client: OpenAI;

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    provider = await startAnthropicProvider({ apiKey: PROVIDER_KEY });
    const stdio = await startEverything('stdio');
    suite = await startSuite({
      mode,
      config: {
        model_list: [{ model_name: 'fixture-claude', litellm_params: { model: 'anthropic/claude-scripted', api_base: provider.url, api_key: PROVIDER_KEY } }],
        mcp_servers: { everything: { transport: 'stdio', command: stdio.command, args: stdio.args, allow_all_keys: true } },
      },
    });
    await waitForTools(suite, ['everything-get-sum']);
    const { key } = await generateKey(suite);
    client = new OpenAI({ apiKey: key, baseURL: `${suite.edgeUrls[0]}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await suite?.stop();
    await provider?.close();
  });

  it('translates a plain completion: system prompt, key and version headers, usage', async () => {
    provider.reset();
    const completion = await client.chat.completions.create({
      model: 'fixture-claude',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello claude' },
      ],
    });
    expect(completion.choices[0]).toMatchObject({ finish_reason: 'stop', message: { role: 'assistant', content: 'You said: hello claude' } });
    expect(completion.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: 4 });
    const sent = provider.requests[0]!;
    expect(sent.headers['x-api-key']).toBe(PROVIDER_KEY);
    expect(sent.headers['anthropic-version']).toBeTruthy();
    expect(sent.body).toMatchObject({ model: 'claude-scripted', system: 'be brief', max_tokens: expect.any(Number), messages: [{ role: 'user' }] });
  });

  it('runs MCP tools and answers, not streamed and streamed (Chat Completions)', async () => {
    const params = { model: 'fixture-claude', messages: [{ role: 'user' as const, content: SUM_PROMPT }], tools: [{ ...MCP_TOOL, require_approval: 'never' } as never] };
    const plain = await client.chat.completions.create(params);
    expect(plain.choices[0]!.message.content).toContain(SUM);
    const streamed = await client.chat.completions.stream(params).finalChatCompletion();
    expect(streamed.choices[0]!.message.content).toContain(SUM);
    // The Messages API got the tool call back as a tool_use turn and its result as a tool_result block.
    const last = provider.requests.at(-1)!.body;
    expect(last.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(last.messages[1].content[0]).toMatchObject({ type: 'tool_use', name: 'everything-get-sum', input: { a: 2, b: 3 } });
    expect(last.messages[2].content[0]).toMatchObject({ type: 'tool_result', content: SUM });
  });

  it('returns tool_calls translated from tool_use when approval is required, and takes the tool message back', async () => {
    const tools = [{ ...MCP_TOOL, require_approval: 'always' } as never];
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: SUM_PROMPT }];
    const first = await client.chat.completions.stream({ model: 'fixture-claude', messages, tools }).finalChatCompletion();
    const call = first.choices[0]!.message.tool_calls![0]!;
    if (call.type !== 'function') throw new Error('expected a function call');
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call.id).toMatch(/^toolu_/);
    expect(JSON.parse(call.function.arguments)).toEqual({ a: 2, b: 3 });
    messages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: SUM });
    const second = await client.chat.completions.create({ model: 'fixture-claude', messages, tools });
    expect(second.choices[0]!.message.content).toContain(SUM);
  });

  it('runs the Responses loop, streamed as one lifecycle, and approvals with previous_response_id', async () => {
    const stream = client.responses.stream({ model: 'fixture-claude', input: SUM_PROMPT, tools: [{ ...MCP_TOOL, require_approval: 'never' }] });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const final = await stream.finalResponse();
    expect(events.filter((e) => e.type === 'response.created')).toHaveLength(1);
    expect(events.at(-1)!.type).toBe('response.completed');
    expect(final.output.map((i) => i.type)).toEqual(['mcp_list_tools', 'mcp_call', 'message']);
    expect(messageText(final)).toContain(SUM);

    const asked = await client.responses.create({ model: 'fixture-claude', input: SUM_PROMPT, tools: [{ ...MCP_TOOL, require_approval: 'always' }] });
    const request = asked.output.find((i) => i.type === 'mcp_approval_request')!;
    const approved = await client.responses.create({
      model: 'fixture-claude',
      previous_response_id: asked.id,
      tools: [{ ...MCP_TOOL, require_approval: 'always' }],
      input: [{ type: 'mcp_approval_response', approval_request_id: request.id, approve: true }],
    });
    expect(approved.output.find((i) => i.type === 'mcp_call')).toMatchObject({ output: SUM, approval_request_id: request.id });
    expect(messageText(approved)).toContain(SUM);
  });
});
