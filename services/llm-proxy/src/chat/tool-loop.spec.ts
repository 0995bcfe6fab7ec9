import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InProcessBus } from '#libs/bus';
import { waitFor } from '#libs/testing';
import { UpstreamRequest, WriteAudit, type AuditRecord, type GrantedTool, type LlmCaller } from '#libs/contracts';
import { startOpenAiProvider } from '../../../../test/fixtures/openai-provider.js';
import type { ProviderFixture } from '../../../../test/fixtures/provider-server.js';
import { readDeployments } from '../models/deployments.js';
import { ModelClient } from '../models/model-client.js';
import { McpToolbox } from '../tools/mcp-toolbox.js';
import { ToolRunner } from '../tools/tool-runner.js';
import { ToolLoop, type LoopInput } from './tool-loop.js';

// The loop against the real scripted provider over HTTP and a real in-process bus, whose UpstreamRequest
// handler stands in for the connector and counts the calls it gets.

const CALLER: LlmCaller = { token_hash: 'a'.repeat(64), key_alias: 'spec', user_id: null, team_id: 't1', organization_id: null };
const ADD: GrantedTool = {
  name: 'math-add',
  server_id: 'srv-1',
  server_name: 'math',
  tool: 'add',
  description: 'Adds',
  input_schema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } },
};

describe('ToolLoop', () => {
  let provider: ProviderFixture;
  let bus: InProcessBus;
  let upstreamCalls: { server_id: string; params: unknown }[];
  let audit: AuditRecord[];
  let runner: ToolRunner;

  beforeAll(async () => {
    provider = await startOpenAiProvider();
  });
  afterAll(() => provider.close());

  const sut = (maxRounds = 5, onUpstreamCall?: () => void) => {
    bus = new InProcessBus();
    upstreamCalls = [];
    audit = [];
    bus.serve(UpstreamRequest, 'connector', async (data) => {
      const request = data as { server_id: string; params: { arguments: { a: number; b: number } } };
      upstreamCalls.push(request);
      onUpstreamCall?.();
      return { result: { content: [{ type: 'text', text: String(request.params.arguments.a + request.params.arguments.b) }] } };
    });
    bus.serve(WriteAudit, 'auth', async (records) => {
      audit.push(...(records as AuditRecord[]));
      return { accepted: (records as AuditRecord[]).length };
    });
    runner = new ToolRunner(bus);
    const models = new ModelClient(readDeployments([{ model_name: 'm', litellm_params: { model: 'openai/scripted', api_base: provider.url, max_retries: 0 } }]));
    return new ToolLoop(models, runner, maxRounds);
  };
  afterEach(async () => {
    provider.reset();
    await runner.onModuleDestroy();
    await bus.close();
  });

  const input = (prompt: string, approval: 'never' | 'always', extra: Partial<LoopInput> = {}): LoopInput => ({
    model: 'm',
    request: { model: 'm', messages: [{ role: 'user', content: prompt }] },
    toolbox: McpToolbox.fromRequest([{ type: 'mcp', server_label: 'gw', require_approval: approval }], [{ index: 0, tools: [ADD], forward_headers: {} }], []),
    caller: CALLER,
    requestId: 'req-1',
    stream: false,
    mode: 'responses',
    ...extra,
  });

  it('runs an allowed call through the bus, audits it as the caller, and asks the model again with the result', async () => {
    const result = await sut().run(input('call add with {"a":2,"b":3}', 'never'));
    expect(upstreamCalls).toEqual([expect.objectContaining({ server_id: 'srv-1', params: { name: 'add', arguments: { a: 2, b: 3 } } })]);
    expect(result.last.text).toBe('Tool results: 5');
    expect(result.steps.map((s) => s.kind)).toEqual(['mcp_call', 'text']);
    await waitFor(() => audit.length > 0, 3000);
    expect(audit).toEqual([expect.objectContaining({ key_alias: 'spec', token_hash_prefix: 'aaaaaaaa', team_id: 't1', server_name: 'math', tool: 'add', status: 'success', session_id: 'llm:req-1' })]);
  });

  it('stops after the configured rounds; the last offers the model no call (tool_choice none)', async () => {
    const result = await sut(3).run(input('always call add with {"a":1,"b":1}', 'never'));
    expect(provider.stats().requests).toBe(3);
    expect(provider.requests.map((r) => r.body.tool_choice)).toEqual(['auto', 'auto', 'none']);
    expect(upstreamCalls).toHaveLength(2);
    expect(result.last.toolCalls).toEqual([]);
    expect(result.last.text).toBe('Tool results: 2');
  });

  it('gives an unknown tool an error as its output, without a bus call', async () => {
    const result = await sut().run(input('call secret-tool with {}', 'never'));
    expect(upstreamCalls).toHaveLength(0);
    expect(result.last.text).toBe('Tool results: Error: tool "secret-tool" is not available: use one of the tools offered');
  });

  it('returns calls needing approval (Responses) or the whole round (Chat) without running them', async () => {
    const responses = await sut().run(input('call add with {"a":1,"b":2}', 'always'));
    expect(responses.steps.map((s) => s.kind)).toEqual(['approval']);
    const chat = await sut().run(input('call add with {"a":1,"b":2}', 'always', { mode: 'chat' }));
    expect(chat.steps.map((s) => s.kind)).toEqual(['client_call']);
    expect(upstreamCalls).toHaveLength(0);
  });

  it('runs an approved call before asking the model, and tells it about a declined one', async () => {
    const call = { id: 'call_1', type: 'function' as const, function: { name: 'math-add', arguments: '{"a":4,"b":4}' } };
    const history = [{ role: 'user' as const, content: 'add' }, { role: 'assistant' as const, content: null, tool_calls: [call] }];
    const toolbox = input('', 'always').toolbox;
    const offered = toolbox.byFunctionName('math-add');
    const approved = await sut().run({ ...input('', 'always'), request: { model: 'm', messages: [] }, history, approvals: [{ call, offered, approvalRequestId: 'mcpr_1', approve: true }] });
    expect(approved.last.text).toBe('Tool results: 8');
    const declined = await sut().run({ ...input('', 'always'), request: { model: 'm', messages: [] }, history, approvals: [{ call, offered, approvalRequestId: 'mcpr_1', approve: false, reason: 'no' }] });
    expect(declined.last.text).toBe('Tool results: Error: the user declined this call: no');
    expect(upstreamCalls).toHaveLength(0);
  });

  it('stops when its client went away: the model turn in flight closes, and no tool or round runs after it', async () => {
    const controller = new AbortController();
    // cancelled while the first round's tool runs: the tool finishes, the model is not asked again
    const loop = sut(5, () => controller.abort());
    await expect(loop.run(input('call add with {"a":2,"b":3}', 'never', { signal: controller.signal }))).rejects.toMatchObject({ details: { reason: 'cancelled', http_status: 499 } });
    expect(provider.stats().requests).toBe(1);

    // cancelled while the model "thinks": its request closes at once
    provider.reset();
    provider.hangNext();
    const thinking = new AbortController();
    const pending = sut().run(input('hello', 'never', { signal: thinking.signal }));
    await waitFor(() => provider.stats().requests === 1, 5000);
    thinking.abort();
    await expect(pending).rejects.toMatchObject({ details: { reason: 'cancelled' } });
    await waitFor(() => provider.stats().abandoned === 1, 5000);
  });
});
