import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiProvider } from '../fixtures/openai-provider.js';
import type { ProviderFixture } from '../fixtures/provider-server.js';
import { MODES, api, generateKey, keyHeaders, printLogsOnFailure, startEverything, startSuite, textOf, waitForAudit, type Suite } from './support/index.js';
import { waitForTools } from './support/llm.js';

// Issue 10, done-means 1 (Chat Completions half): the `openai` npm client against http://…/v1, streaming and
// not, with the gateway's MCP tools run by the gateway (require_approval "never") or returned as tool_calls that
// the client runs itself through /mcp-rest/tools/call and sends back. The model is the scripted OpenAI-compatible
// fixture; the tool is server-everything's real get-sum.

const PROVIDER_KEY = 'sk-provider-secret-0123456789';
const SUM_PROMPT = 'please call get-sum with {"a":2,"b":3}';
const MCP_TOOL = { type: 'mcp', server_label: 'switchboard', server_url: 'litellm_proxy' };

describe.each(MODES)('%s', (mode) => {
  let suite: Suite | undefined;
  let provider: ProviderFixture;
  let client: OpenAI;
  let base: string;

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    provider = await startOpenAiProvider({ apiKey: PROVIDER_KEY });
    const stdio = await startEverything('stdio');
    suite = await startSuite({
      mode,
      config: {
        model_list: [{ model_name: 'fixture-gpt', litellm_params: { model: 'openai/scripted', api_base: provider.url, api_key: PROVIDER_KEY } }],
        mcp_servers: { everything: { transport: 'stdio', command: stdio.command, args: stdio.args, allow_all_keys: true } },
      },
    });
    base = suite.edgeUrls[0]!;
    await waitForTools(suite, ['everything-get-sum']);
    const { key } = await generateKey(suite, { key_alias: `chat-${mode}` });
    client = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await suite?.stop();
    await provider?.close();
  });

  it('refuses a request without a valid key with 401, as /mcp does', async () => {
    const bare = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(bare.status).toBe(401);
    const wrong = new OpenAI({ apiKey: 'sk-not-a-key-of-this-gateway', baseURL: `${base}/v1`, maxRetries: 0 });
    await expect(wrong.chat.completions.create({ model: 'fixture-gpt', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 401 });
    expect(provider.stats().requests).toBe(0);
  });

  it('lists model_list at /v1/models', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model.id);
    expect(models).toEqual(['fixture-gpt']);
  });

  it('answers a completion through the provider, its key never shown', async () => {
    provider.reset();
    const completion = await client.chat.completions.create({ model: 'fixture-gpt', messages: [{ role: 'user', content: 'hello there' }] });
    expect(completion.choices[0]!.message.content).toBe('You said: hello there');
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);
    expect(provider.requests[0]!.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(provider.requests[0]!.body.model).toBe('scripted');
  });

  it('streams a completion the client assembles with its own helper', async () => {
    const stream = client.chat.completions.stream({ model: 'fixture-gpt', messages: [{ role: 'user', content: 'stream this please' }] });
    const deltas: string[] = [];
    stream.on('content', (delta) => deltas.push(delta));
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe('You said: stream this please');
    expect(deltas.length).toBeGreaterThan(1);
  });

  it('runs MCP tools itself with require_approval "never" and answers with their real result', async () => {
    const completion = await client.chat.completions.create({
      model: 'fixture-gpt',
      messages: [{ role: 'user', content: SUM_PROMPT }],
      tools: [{ ...MCP_TOOL, require_approval: 'never' } as never],
    });
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.choices[0]!.message.content).toContain('The sum of 2 and 3 is 5.');
    const rows = await waitForAudit(suite!, { key_alias: `chat-${mode}`, tool: 'get-sum' });
    expect(rows[0]).toMatchObject({ server_name: 'everything', status: 'success' });
  });

  it('streams the final answer after the tools it ran', async () => {
    const stream = client.chat.completions.stream({
      model: 'fixture-gpt',
      messages: [{ role: 'user', content: SUM_PROMPT }],
      tools: [{ ...MCP_TOOL, require_approval: 'never' } as never],
      stream_options: { include_usage: true },
    });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.content).toContain('The sum of 2 and 3 is 5.');
    expect(final.choices[0]!.finish_reason).toBe('stop');
  });

  for (const streamed of [false, true]) {
    it(`returns tool_calls when approval is required; the client runs them and sends them back${streamed ? ' (streamed)' : ''}`, async () => {
      const tools = [{ ...MCP_TOOL, require_approval: 'always' } as never];
      const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: SUM_PROMPT }];
      const first = streamed
        ? await client.chat.completions.stream({ model: 'fixture-gpt', messages, tools }).finalChatCompletion()
        : await client.chat.completions.create({ model: 'fixture-gpt', messages, tools });
      const choice = first.choices[0]!;
      expect(choice.finish_reason).toBe('tool_calls');
      const call = choice.message.tool_calls![0]!;
      if (call.type !== 'function') throw new Error(`unexpected tool call type ${call.type}`);
      expect(call.function.name).toBe('everything-get-sum');

      // The client runs the call itself, as the same key, through the gateway's REST endpoint.
      const result = await api(base, client.apiKey, '/mcp-rest/tools/call', { name: call.function.name, arguments: JSON.parse(call.function.arguments) });
      messages.push(choice.message, { role: 'tool', tool_call_id: call.id, content: textOf(result) });
      const second = streamed
        ? await client.chat.completions.stream({ model: 'fixture-gpt', messages, tools }).finalChatCompletion()
        : await client.chat.completions.create({ model: 'fixture-gpt', messages, tools });
      expect(second.choices[0]!.message.content).toContain('The sum of 2 and 3 is 5.');
    });
  }

  it('uses the same key headers as /mcp', async () => {
    const response = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...keyHeaders(client.apiKey), 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'fixture-gpt', messages: [{ role: 'user', content: 'x-litellm-api-key works' }] }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as any).choices[0].message.content).toBe('You said: x-litellm-api-key works');
  });
});
