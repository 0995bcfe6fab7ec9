import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callOpenAITool, loadMcpTools } from '#libs/sdk';
import { startOpenAiProvider } from '../fixtures/openai-provider.js';
import type { ProviderFixture } from '../fixtures/provider-server.js';
import { connectClient, generateKey, printLogsOnFailure, startEverything, startSuite, textOf, type Suite } from './support/index.js';
import { waitForTools } from './support/llm.js';

// Issue 10, done-means 4: the seed's "OpenAI SDK + LiteLLM Proxy" bridge flow in TypeScript. The official MCP
// client on the gateway's /mcp lists the tools in OpenAI format (loadMcpTools), the openai client pointed at the
// gateway gets a tool call from the model, callOpenAITool runs it on the MCP server, the result goes back to the
// model, and the final answer carries it.

describe('the SDK bridge', () => {
  let suite: Suite | undefined;
  let provider: ProviderFixture;
  let mcp: Client;
  let key: string;

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    provider = await startOpenAiProvider();
    const stdio = await startEverything('stdio');
    suite = await startSuite({
      mode: 'one-process',
      config: {
        model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/scripted', api_base: provider.url } }],
        mcp_servers: { everything: { transport: 'stdio', command: stdio.command, args: stdio.args, allow_all_keys: true } },
      },
    });
    await waitForTools(suite, ['everything-get-sum']);
    ({ key } = await generateKey(suite));
    mcp = await connectClient(`${suite.edgeUrls[0]}/mcp`, key);
  });

  afterAll(async () => {
    await mcp?.close();
    await suite?.stop();
    await provider?.close();
  });

  it('lists tools in OpenAI format, runs the model tool call with callOpenAITool and gets the final answer', async () => {
    const tools = await loadMcpTools(mcp, { format: 'openai' });
    expect(tools.find((t) => t.function.name === 'everything-get-sum')).toMatchObject({ type: 'function', function: { parameters: { type: 'object' } } });

    // As in the seed: the OpenAI SDK pointed at the gateway's base URL (its /chat/completions answers without /v1 too).
    const openai = new OpenAI({ apiKey: key, baseURL: suite!.edgeUrls[0]!, maxRetries: 0 });
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: "what's (3 + 5)? call get-sum with {\"a\":3,\"b\":5}" }];
    const llmResponse = await openai.chat.completions.create({ model: 'gpt-4o', messages, tools });
    const toolCall = llmResponse.choices[0]!.message.tool_calls![0]!;
    if (toolCall.type !== 'function') throw new Error('expected a function tool call');
    expect(toolCall.function.name).toBe('everything-get-sum');

    const callResult = await callOpenAITool(mcp, toolCall);
    expect(textOf(callResult)).toBe('The sum of 3 and 5 is 8.');

    messages.push(llmResponse.choices[0]!.message, { role: 'tool', content: textOf(callResult), tool_call_id: toolCall.id });
    const finalResponse = await openai.chat.completions.create({ model: 'gpt-4o', messages, tools });
    expect(finalResponse.choices[0]!.message.content).toContain('The sum of 3 and 5 is 8.');
  });
});
