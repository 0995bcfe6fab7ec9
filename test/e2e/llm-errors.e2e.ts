import OpenAI, { APIUserAbortError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiProvider } from '../fixtures/openai-provider.js';
import type { ProviderFixture } from '../fixtures/provider-server.js';
import { awayFromMinuteEdge, eventually, freePort, generateKey, keyHeaders, printLogsOnFailure, startSuite, type Suite } from './support/index.js';

// Issue 10, done-means 5: bad input gets OpenAI-shaped 4xx errors naming the field (the `openai` client's own error
// classes see `status` and `error.param`); provider trouble keeps the provider's status (502 when it is down, 504
// when it does not answer in time) and names the provider; retries per model; the provider key never appears in an
// answer or a log line. Also: rpm_limit on /v1.

const PROVIDER_KEY = 'sk-provider-real-key-0123456789abcdef';
const WRONG_PROVIDER_KEY = 'sk-provider-wrong-key-9876543210fedcba';

describe('distributed', () => {
  let suite: Suite | undefined;
  let provider: ProviderFixture;
  let client: OpenAI;
  let base: string;

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    provider = await startOpenAiProvider({ apiKey: PROVIDER_KEY });
    const closedPort = await freePort();
    const params = { model: 'openai/scripted', api_base: provider.url, api_key: PROVIDER_KEY };
    suite = await startSuite({
      config: {
        model_list: [
          { model_name: 'fixture-gpt', litellm_params: { ...params, max_retries: 0, timeout: 1 } },
          { model_name: 'patient-gpt', litellm_params: { ...params, max_retries: 0, timeout: 300 } },
          { model_name: 'retry-gpt', litellm_params: { ...params, max_retries: 1, timeout: 0.5 } },
          { model_name: 'down-gpt', litellm_params: { ...params, api_base: `http://127.0.0.1:${closedPort}/v1`, max_retries: 0 } },
          { model_name: 'wrong-key-gpt', litellm_params: { ...params, api_key: WRONG_PROVIDER_KEY, max_retries: 0 } },
        ],
      },
    });
    base = suite.edgeUrls[0]!;
    const { key } = await generateKey(suite);
    client = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await suite?.stop();
    await provider?.close();
  });

  const chat = (model: string, extra: Record<string, unknown> = {}) => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], ...extra } as never);

  it('names an unknown model (400, param model), streaming or not, on both APIs', async () => {
    for (const attempt of [() => chat('gpt-nope'), () => chat('gpt-nope', { stream: true }), () => client.responses.create({ model: 'gpt-nope', input: 'hi' })]) {
      await expect(attempt()).rejects.toMatchObject({ status: 400, error: { param: 'model', type: 'invalid_request_error', message: expect.stringContaining('"gpt-nope"') } });
    }
  });

  it('names the field of malformed tools and messages', async () => {
    const cases: [() => Promise<unknown>, string][] = [
      [() => chat('fixture-gpt', { tools: [{ type: 'mcp', server_label: 'gw', server_url: 'litellm_proxy', require_approval: 'sometimes' }] }), 'tools[0].require_approval'],
      [() => chat('fixture-gpt', { tools: [{ type: 'function', function: { description: 'no name' } }] }), 'tools[0].function.name'],
      [() => chat('fixture-gpt', { tools: [{ type: 'web_search' }] }), 'tools[0].type'],
      [() => client.chat.completions.create({ model: 'fixture-gpt' } as never), 'messages'],
      [() => chat('fixture-gpt', { messages: [{ role: 'wizard', content: 'x' }] }), 'messages[0].role'],
      [() => client.responses.create({ model: 'fixture-gpt', input: 'x', tools: [{ type: 'mcp', server_label: 'gw', server_url: 42 } as never] }), 'tools[0].server_url'],
      [() => client.responses.create({ model: 'fixture-gpt', input: [{ type: 'computer_call_output' } as never] }), 'input[0].type'],
    ];
    for (const [attempt, param] of cases) {
      await expect(attempt(), param).rejects.toMatchObject({ status: 400, error: { param, message: expect.stringContaining(param) } });
    }
    const notJson = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { ...keyHeaders(client.apiKey), 'content-type': 'application/json' }, body: '{nope' });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
  });

  it('refuses an unknown previous_response_id (400, param previous_response_id)', async () => {
    await expect(client.responses.create({ model: 'fixture-gpt', input: 'hi', previous_response_id: 'resp_unknown' })).rejects.toMatchObject({
      status: 400,
      error: { param: 'previous_response_id', code: 'previous_response_not_found' },
    });
  });

  it('answers 502 naming the provider when it is down', async () => {
    await expect(chat('down-gpt')).rejects.toMatchObject({ status: 502, error: { message: expect.stringContaining('openai (model "down-gpt")') } });
    await expect(client.responses.create({ model: 'down-gpt', input: 'hi' })).rejects.toMatchObject({ status: 502 });
  });

  it("keeps the provider's status, retries what is worth retrying, and times out", async () => {
    provider.reset();
    provider.failNext(429, { message: 'slow down' });
    await expect(chat('fixture-gpt')).rejects.toMatchObject({ status: 429, error: { message: expect.stringContaining('slow down') } });
    provider.failNext(400, { message: 'bad things' });
    await expect(chat('retry-gpt')).rejects.toMatchObject({ status: 400 });
    expect(provider.stats().requests).toBe(2); // a 400 is not retried

    provider.reset();
    provider.failNext(503);
    expect((await chat('retry-gpt')).choices[0]!.message.content).toBe('You said: hi');
    expect(provider.stats().requests).toBe(2);

    provider.reset();
    provider.hangNext(2);
    const started = Date.now();
    await expect(chat('retry-gpt')).rejects.toMatchObject({ status: 504, error: { message: expect.stringContaining('did not answer within 0.5s') } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(provider.stats().requests).toBe(2);
  });

  it('ends a stream the provider breaks off with an error the client raises (Chat) or response.failed (Responses)', async () => {
    provider.cutNext();
    const chat = client.chat.completions.stream({ model: 'fixture-gpt', messages: [{ role: 'user', content: 'break please' }] });
    await expect(chat.finalChatCompletion()).rejects.toThrow(/openai \(model "fixture-gpt"\) broke off the stream/);

    provider.cutNext();
    const events: string[] = [];
    const response = client.responses.stream({ model: 'fixture-gpt', input: 'break please' });
    for await (const event of response) events.push(event.type);
    expect(events[0]).toBe('response.created');
    expect(events.at(-1)).toBe('response.failed');
    expect(events).not.toContain('response.completed');
  });

  it('a client that goes away cancels its request: the provider connection closes (Chat, streamed or not, and Responses)', async () => {
    const messages = [{ role: 'user' as const, content: 'take your time' }];
    const requests: [string, (signal: AbortSignal) => Promise<unknown>][] = [
      ['chat', (signal) => client.chat.completions.create({ model: 'patient-gpt', messages }, { signal })],
      ['chat, streamed', (signal) => client.chat.completions.create({ model: 'patient-gpt', messages, stream: true }, { signal })],
      ['responses', (signal) => client.responses.create({ model: 'patient-gpt', input: 'take your time' }, { signal })],
    ];
    for (const [label, send] of requests) {
      provider.reset();
      provider.hangNext(); // the model "thinks" (a 300 s timeout): only a cancellation ends its request early
      const controller = new AbortController();
      const pending = send(controller.signal).then(
        () => 'answered',
        (error: unknown) => error,
      );
      await eventually(() => provider.stats().requests === 1, 10_000, 20);
      controller.abort();
      expect(await pending, label).toBeInstanceOf(APIUserAbortError);
      await eventually(() => provider.stats().abandoned === 1, 10_000, 20);
    }
    // the gateway still answers
    expect((await chat('patient-gpt')).choices[0]!.message.content).toBe('You said: hi');
  });

  it('never shows the provider key, even when the provider quotes it', async () => {
    const response = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...keyHeaders(client.apiKey), 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'wrong-key-gpt', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const text = await response.text();
    expect(response.status).toBe(401);
    expect(provider.requests.at(-1)!.headers.authorization).toBe(`Bearer ${WRONG_PROVIDER_KEY}`);
    expect(text).toContain('Incorrect API key provided');
    expect(text).not.toContain(WRONG_PROVIDER_KEY);
    await chat('fixture-gpt');
    // log lines are written in batches: wait for this request's access line before reading them all
    const logs = await eventually(() => suite!.logs().includes('POST /v1/chat/completions 401') && suite!.logs());
    expect(logs).not.toContain(WRONG_PROVIDER_KEY);
    expect(logs).not.toContain(PROVIDER_KEY);
  });

  it('applies rpm_limit to /v1 requests (429 over it)', async () => {
    const { key } = await generateKey(suite!, { rpm_limit: 2 });
    const limited = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0 });
    await awayFromMinuteEdge();
    await limited.chat.completions.create({ model: 'fixture-gpt', messages: [{ role: 'user', content: '1' }] });
    await limited.models.list();
    await expect(limited.chat.completions.create({ model: 'fixture-gpt', messages: [{ role: 'user', content: '3' }] })).rejects.toMatchObject({ status: 429 });
  });
});
