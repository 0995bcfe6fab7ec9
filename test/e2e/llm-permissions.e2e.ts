import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiProvider } from '../fixtures/openai-provider.js';
import type { ProviderFixture } from '../fixtures/provider-server.js';
import { generateKey, printLogsOnFailure, startCountingServer, startSuite, waitForAudit, type CountingServer, type Suite } from './support/index.js';
import { waitForTools } from './support/llm.js';

// Issue 10, done-means 3: the LLM proxy offers a model only the tools the caller's key may use (SPEC section 4,
// as /mcp lists them), and a model that asks for another tool gets a tool error: the upstream never sees the call
// (the counting fixtures count every tools/call). Also: which server_url values are this gateway, `allowed_tools`
// and `x-mcp-servers` in the entry's headers, and remote MCP servers that allowed_remote_mcp_server_urls names.

const mcp = (extra: Record<string, unknown> = {}) => ({ type: 'mcp', server_label: 'gw', server_url: 'litellm_proxy', require_approval: 'never', ...extra }) as never;

describe('distributed', () => {
  let suite: Suite | undefined;
  let provider: ProviderFixture;
  let alpha: CountingServer;
  let beta: CountingServer;
  let remote: CountingServer;
  let client: OpenAI;
  let base: string;

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    [provider, alpha, beta, remote] = await Promise.all([startOpenAiProvider(), startCountingServer(), startCountingServer(), startCountingServer()]);
    suite = await startSuite({
      config: {
        general_settings: { allowed_remote_mcp_server_urls: [remote.url, 'http://169.254.169.254/mcp'] },
        model_list: [{ model_name: 'fixture-gpt', litellm_params: { model: 'openai/scripted', api_base: provider.url } }],
        mcp_servers: {
          alpha: { url: alpha.url, transport: 'http', access_groups: ['dev'] },
          beta: { url: beta.url, transport: 'http', access_groups: ['ops'] },
        },
      },
    });
    base = suite.edgeUrls[0]!;
    await waitForTools(suite, ['alpha-echo', 'beta-echo']);
    const { key } = await generateKey(suite, { key_alias: 'llm-dev', object_permission: { mcp_access_groups: ['dev'] } });
    client = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await suite?.stop();
    await Promise.all([provider?.close(), alpha?.stop(), beta?.stop(), remote?.stop()]);
  });

  /** The function names the provider was offered in its latest request. */
  const offered = () => ((provider.requests.at(-1)!.body.tools ?? []) as { function: { name: string } }[]).map((t) => t.function.name).sort();

  it('offers only the tools of the servers the key may use', async () => {
    await client.chat.completions.create({ model: 'fixture-gpt', messages: [{ role: 'user', content: 'what can you do?' }], tools: [mcp()] });
    expect(offered()).toEqual(['alpha-add', 'alpha-echo', 'alpha-fail', 'alpha-slow', 'alpha-touch_tools', 'alpha-whoami']);
  });

  it('gives the model a tool error for a tool the key may not use, and never calls the upstream', async () => {
    const before = (await beta.stats()).toolsCall;
    const completion = await client.chat.completions.create({
      model: 'fixture-gpt',
      messages: [{ role: 'user', content: 'call beta-add with {"a":1,"b":2}' }],
      tools: [mcp()],
    });
    expect(completion.choices[0]!.message.content).toContain('Tool results: Error: tool "beta-add" is not available');
    const response = await client.responses.create({ model: 'fixture-gpt', input: 'call beta-echo with {"text":"x"}', tools: [mcp()] });
    expect(response.output.find((i) => i.type === 'mcp_call')).toMatchObject({ name: 'beta-echo', output: null, error: expect.stringContaining('not available') });
    expect((await beta.stats()).toolsCall).toBe(before);

    // A tool it may use is called once, as this key, and audited.
    const allowed = await client.responses.create({ model: 'fixture-gpt', input: 'call alpha-add with {"a":1,"b":2}', tools: [mcp()] });
    expect(allowed.output.find((i) => i.type === 'mcp_call')).toMatchObject({ name: 'alpha-add', output: '3' });
    expect((await alpha.stats()).toolsCall).toBe(1);
    const rows = await waitForAudit(suite!, { session_id: `llm:${allowed.id}` });
    expect(rows[0]).toMatchObject({ key_alias: 'llm-dev', server_name: 'alpha', tool: 'add', status: 'success' });
  });

  it('refuses a server_url naming a server the key may not use, and one that is not this gateway', async () => {
    const ask = (serverUrl: string) => client.chat.completions.create({ model: 'fixture-gpt', messages: [{ role: 'user', content: 'hi' }], tools: [mcp({ server_url: serverUrl })] });
    await expect(ask('litellm_proxy/mcp/beta')).rejects.toMatchObject({ status: 403, error: { param: 'tools[0].server_url' } });
    await expect(ask('https://mcp.example.com/mcp')).rejects.toMatchObject({ status: 400, error: { param: 'tools[0].server_url' } });
    await expect(ask('litellm_proxy/mcp/nope')).rejects.toMatchObject({ status: 400, error: { param: 'tools[0].server_url' } });
  });

  it('reads this gateway own /mcp/{server} URL, allowed_tools and x-mcp-servers', async () => {
    const { key } = await generateKey(suite!, { object_permission: { mcp_access_groups: ['dev', 'ops'] } });
    const both = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0 });
    const ask = (tool: Record<string, unknown>) => both.chat.completions.create({ model: 'fixture-gpt', messages: [{ role: 'user', content: 'hi' }], tools: [mcp(tool)] });

    await ask({ server_url: `${base}/mcp/beta` });
    expect(offered()).toEqual(['add', 'echo', 'fail', 'slow', 'touch_tools', 'whoami']);
    await ask({ server_url: `${base}/mcp`, allowed_tools: ['alpha-echo', 'add'] });
    expect(offered()).toEqual(['alpha-add', 'alpha-echo', 'beta-add']);
    await ask({ headers: { 'x-mcp-servers': 'beta' } });
    expect(offered().every((name) => name.startsWith('beta-'))).toBe(true);
  });

  it("uses the tools as the gateway key an entry's headers carry (LiteLLM's examples), audited as that key", async () => {
    const { key: opsKey } = await generateKey(suite!, { key_alias: 'llm-ops', object_permission: { mcp_access_groups: ['ops'] } });
    const before = (await beta.stats()).toolsCall;
    const response = await client.responses.create({
      model: 'fixture-gpt',
      input: 'call beta-add with {"a":1,"b":1}',
      tools: [mcp({ headers: { 'x-litellm-api-key': `Bearer ${opsKey}` } })],
    });
    expect(response.output.find((i) => i.type === 'mcp_call')).toMatchObject({ name: 'beta-add', output: '2' });
    expect((await beta.stats()).toolsCall).toBe(before + 1);
    const rows = await waitForAudit(suite!, { session_id: `llm:${response.id}` });
    expect(rows[0]).toMatchObject({ key_alias: 'llm-ops', server_name: 'beta', tool: 'add', status: 'success' });
  });

  it('uses a remote MCP server that allowed_remote_mcp_server_urls names, with the entry headers, and refuses metadata addresses', async () => {
    const tool = mcp({ server_label: 'remote', server_url: remote.url, headers: { authorization: 'Bearer remote-token' } });
    const added = await client.responses.create({ model: 'fixture-gpt', input: 'call add with {"a":2,"b":5}', tools: [tool] });
    expect(added.output.find((i) => i.type === 'mcp_list_tools')).toMatchObject({ server_label: 'remote', tools: expect.arrayContaining([expect.objectContaining({ name: 'add' })]) });
    expect(added.output.find((i) => i.type === 'mcp_call')).toMatchObject({ server_label: 'remote', name: 'add', output: '7' });
    expect((await remote.stats()).toolsCall).toBe(1);

    const whoami = await client.responses.create({ model: 'fixture-gpt', input: 'call whoami with {}', tools: [tool] });
    const seen = JSON.parse((whoami.output.find((i) => i.type === 'mcp_call') as { output: string }).output);
    expect(seen.authorization).toBe('Bearer remote-token'); // the entry's header, never the gateway key

    const metadata = mcp({ server_url: 'http://169.254.169.254/mcp' });
    await expect(client.responses.create({ model: 'fixture-gpt', input: 'hi', tools: [metadata] })).rejects.toMatchObject({
      status: 400,
      error: { param: 'tools[0].server_url', message: expect.stringContaining('always refused') },
    });
  });
});
