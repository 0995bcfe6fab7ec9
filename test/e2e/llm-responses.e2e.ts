import OpenAI from 'openai';
import type { Response, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiProvider } from '../fixtures/openai-provider.js';
import type { ProviderFixture } from '../fixtures/provider-server.js';
import { MODES, generateKey, printLogsOnFailure, startEverything, startSuite, waitForAudit, type Suite } from './support/index.js';
import { itemsOf, messageText as textOf, streamResponse as streamed, waitForTools } from './support/llm.js';

// Issue 10, done-means 1 (Responses half): the `openai` npm client's responses.create and responses.stream against
// http://…/v1 with a {"type": "mcp"} tool: require_approval "never" (the gateway runs server-everything's get-sum
// and loops), "always" (mcp_approval_request, then approved or declined with previous_response_id), stored responses
// continued after tools the gateway ran, and streams that the client's own ResponseStream parses.

const SUM_PROMPT = 'please call get-sum with {"a":2,"b":3}';
const SUM = 'The sum of 2 and 3 is 5.';
const mcpTool = (requireApproval: 'never' | 'always') =>
  ({ type: 'mcp', server_label: 'switchboard', server_url: 'litellm_proxy', require_approval: requireApproval }) as const;

/** One coherent lifecycle: created first, completed last, once each; sequence numbers increase by one. */
function expectOneLifecycle(events: ResponseStreamEvent[]): void {
  const types = events.map((e) => e.type);
  expect(types[0]).toBe('response.created');
  expect(types.at(-1)).toBe('response.completed');
  expect(types.filter((t) => t === 'response.created')).toHaveLength(1);
  expect(types.filter((t) => t === 'response.completed')).toHaveLength(1);
  expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
  const added = events.filter((e) => e.type === 'response.output_item.added').length;
  expect(events.filter((e) => e.type === 'response.output_item.done')).toHaveLength(added);
}

describe.each(MODES)('%s', (mode) => {
  let suite: Suite | undefined;
  let provider: ProviderFixture;
  let client: OpenAI;
  const alias = `responses-${mode}`;

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    provider = await startOpenAiProvider();
    const stdio = await startEverything('stdio');
    suite = await startSuite({
      mode,
      config: {
        model_list: [{ model_name: 'fixture-gpt', litellm_params: { model: 'openai/scripted', api_base: provider.url } }],
        mcp_servers: { everything: { transport: 'stdio', command: stdio.command, args: stdio.args, allow_all_keys: true } },
      },
    });
    await waitForTools(suite, ['everything-get-sum']);
    const { key } = await generateKey(suite, { key_alias: alias });
    client = new OpenAI({ apiKey: key, baseURL: `${suite.edgeUrls[0]}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await suite?.stop();
    await provider?.close();
  });

  it('runs the MCP tool with require_approval "never": mcp_list_tools, mcp_call with its output, then the answer', async () => {
    const response = await client.responses.create({ model: 'fixture-gpt', input: SUM_PROMPT, tools: [mcpTool('never')] });
    expect(response.status).toBe('completed');
    expect(response.output.map((i) => i.type)).toEqual(['mcp_list_tools', 'mcp_call', 'message']);
    expect(itemsOf(response, 'mcp_list_tools')[0].tools.map((t: { name: string }) => t.name)).toContain('everything-get-sum');
    expect(itemsOf(response, 'mcp_call')[0]).toMatchObject({ server_label: 'switchboard', name: 'everything-get-sum', arguments: '{"a":2,"b":3}', output: SUM, error: null });
    expect(response.output_text).toContain(SUM);
    expect(response.usage?.total_tokens).toBeGreaterThan(0);
    const rows = await waitForAudit(suite!, { session_id: `llm:${response.id}` });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ key_alias: alias, server_name: 'everything', tool: 'get-sum', status: 'success' });
  });

  it('streams one coherent event sequence the client parses, MCP events included', async () => {
    const { events, final } = await streamed(client, { model: 'fixture-gpt', input: SUM_PROMPT, tools: [mcpTool('never')] });
    expectOneLifecycle(events);
    const types = events.map((e) => e.type);
    for (const type of ['response.mcp_list_tools.completed', 'response.mcp_call_arguments.done', 'response.mcp_call.in_progress', 'response.mcp_call.completed', 'response.output_text.delta', 'response.output_text.done']) {
      expect(types).toContain(type);
    }
    expect(textOf(final)).toContain(SUM);
    expect(itemsOf(final, 'mcp_call')[0].output).toBe(SUM);
  });

  for (const stream of [false, true]) {
    it(`asks for approval with require_approval "always", then runs the approved call with previous_response_id${stream ? ' (streamed)' : ''}`, async () => {
      const create = (params: Record<string, unknown>) => (stream ? streamed(client, params).then((s) => (expectOneLifecycle(s.events), s.final)) : client.responses.create(params as never));
      const first = (await create({ model: 'fixture-gpt', input: SUM_PROMPT, tools: [mcpTool('always')] })) as Response;
      expect(first.output.map((i) => i.type)).toEqual(['mcp_list_tools', 'mcp_approval_request']);
      const request = itemsOf(first, 'mcp_approval_request')[0];
      expect(request).toMatchObject({ server_label: 'switchboard', name: 'everything-get-sum', arguments: '{"a":2,"b":3}' });

      const second = (await create({
        model: 'fixture-gpt',
        previous_response_id: first.id,
        tools: [mcpTool('always')],
        input: [{ type: 'mcp_approval_response', approval_request_id: request.id, approve: true }],
      })) as Response;
      expect(itemsOf(second, 'mcp_call')[0]).toMatchObject({ approval_request_id: request.id, name: 'everything-get-sum', output: SUM });
      expect(textOf(second)).toContain(SUM);
    });
  }

  it('runs nothing when the approval is declined: the model is told, no upstream call', async () => {
    const first = await client.responses.create({ model: 'fixture-gpt', input: SUM_PROMPT, tools: [mcpTool('always')] });
    const request = itemsOf(first, 'mcp_approval_request')[0];
    const second = await client.responses.create({
      model: 'fixture-gpt',
      previous_response_id: first.id,
      tools: [mcpTool('always')],
      input: [{ type: 'mcp_approval_response', approval_request_id: request.id, approve: false, reason: 'not now' } as never],
    });
    expect(itemsOf(second, 'mcp_call')[0]).toMatchObject({ approval_request_id: request.id, output: null, error: 'the user declined this call: not now' });
    expect(second.output_text).toContain('the user declined this call');
    await new Promise((r) => setTimeout(r, 500)); // audit batches are flushed every 200 ms
    // Audit rows of one LLM request share the session id `llm:{response id}`: none for this one.
    expect(await waitForAudit(suite!, { session_id: `llm:${second.id}` }, () => true)).toHaveLength(0);
  });

  it('continues a response after tools the gateway ran (LiteLLM issue 33024), and retrieves it by id', async () => {
    const first = await client.responses.create({ model: 'fixture-gpt', input: SUM_PROMPT, tools: [mcpTool('never')], instructions: 'be brief' });
    provider.reset();
    const second = await client.responses.create({ model: 'fixture-gpt', previous_response_id: first.id, input: 'and now?', tools: [mcpTool('never')] });
    expect(second.output_text).toBe('You said: and now?');
    // The provider got the whole conversation: the call, its result, the answer, the new question (no old instructions).
    const messages = provider.requests[0]!.body.messages as { role: string; content: unknown; tool_calls?: { function: { name: string } }[] }[];
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant', 'user']);
    expect(messages[1]!.tool_calls![0]!.function.name).toBe('everything-get-sum');
    expect(messages[2]!.content).toBe(SUM);

    const retrieved = await client.responses.retrieve(second.id);
    expect(retrieved.id).toBe(second.id);
    expect(retrieved.output_text).toBe('You said: and now?');
  });

  it('keeps stored responses to the key that created them', async () => {
    const response = await client.responses.create({ model: 'fixture-gpt', input: 'mine' });
    const { key } = await generateKey(suite!);
    const other = new OpenAI({ apiKey: key, baseURL: `${suite!.edgeUrls[0]}/v1`, maxRetries: 0 });
    await expect(other.responses.retrieve(response.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.responses.create({ model: 'fixture-gpt', input: 'x', previous_response_id: response.id })).rejects.toMatchObject({
      status: 400,
      error: { param: 'previous_response_id' },
    });
  });
});
