import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiProvider } from '../fixtures/openai-provider.js';
import type { ProviderFixture } from '../fixtures/provider-server.js';
import { api, eventually, generateKey, printLogsOnFailure, startSuite, type Suite } from './support/index.js';

// Issue 10: keys and teams take LiteLLM's `models` list (empty = every model; another model is a 403 naming it,
// and /v1/models lists only what the key may use), and usage is recorded per key, team and model with its cost
// from model_list's prices, readable at GET /spend/logs and as `spend` in /key/info.

const PRICES = { input_cost_per_token: 0.001, output_cost_per_token: 0.002 };

describe('distributed', () => {
  let suite: Suite | undefined;
  let provider: ProviderFixture;
  let base: string;
  const openai = (key: string) => new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0 });
  const ask = (key: string, model: string) => openai(key).chat.completions.create({ model, messages: [{ role: 'user', content: 'count these four words' }] });

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    provider = await startOpenAiProvider();
    suite = await startSuite({
      config: {
        model_list: [
          { model_name: 'cheap-gpt', litellm_params: { model: 'openai/scripted', api_base: provider.url, ...PRICES } },
          { model_name: 'other-gpt', litellm_params: { model: 'openai/scripted', api_base: provider.url } },
        ],
      },
    });
    base = suite.edgeUrls[0]!;
  });

  afterAll(async () => {
    await suite?.stop();
    await provider?.close();
  });

  it("limits a key to its models: 403 naming the model, and /v1/models lists only those", async () => {
    const { key } = await generateKey(suite!, { models: ['cheap-gpt'] });
    await expect(ask(key, 'cheap-gpt')).resolves.toBeTruthy();
    await expect(ask(key, 'other-gpt')).rejects.toMatchObject({ status: 403, error: { param: 'model', message: expect.stringContaining('"other-gpt"') } });
    const listed = [];
    for await (const model of openai(key).models.list()) listed.push(model.id);
    expect(listed).toEqual(['cheap-gpt']);

    const { key: free } = await generateKey(suite!, { models: [] });
    await expect(ask(free, 'other-gpt')).resolves.toBeTruthy();
  });

  it("applies the team's models too, and a key's update at once", async () => {
    const team = await api(base, suite!.masterKey, '/team/new', { team_alias: 'llm-team', models: ['other-gpt'] });
    expect(team.models).toEqual(['other-gpt']);
    const { key } = await generateKey(suite!, { team_id: team.team_id });
    await expect(ask(key, 'cheap-gpt')).rejects.toMatchObject({ status: 403, error: { message: expect.stringContaining("key's team may not use") } });
    await expect(ask(key, 'other-gpt')).resolves.toBeTruthy();

    await api(base, suite!.masterKey, '/key/update', { key, models: ['cheap-gpt'] });
    await eventually(() => ask(key, 'other-gpt').then(() => false, (error) => error.status === 403 && error.error.message.includes('this key may not use')));
  });

  it('records usage per key, team and model with its cost: /spend/logs and spend in /key/info', async () => {
    const team = await api(base, suite!.masterKey, '/team/new', { team_alias: 'spenders' });
    const { key, token } = await generateKey(suite!, { key_alias: 'spender', team_id: team.team_id });
    const completion = await ask(key, 'cheap-gpt');
    const { prompt_tokens, completion_tokens } = completion.usage!;
    const cost = prompt_tokens * PRICES.input_cost_per_token + completion_tokens * PRICES.output_cost_per_token;

    const rows = await eventually(async () => {
      const found = await api<any[]>(base, suite!.masterKey, `/spend/logs?api_key=${key}`);
      return found.length > 0 && found;
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ api_key: token, key_alias: 'spender', team_id: team.team_id, model_group: 'cheap-gpt', prompt_tokens, completion_tokens, call_type: 'chat_completion', status: 'success' });
    expect(rows[0].spend).toBeCloseTo(cost, 10);
    expect(JSON.stringify(rows)).not.toContain(key);

    const info = await api(base, suite!.masterKey, `/key/info?key=${key}`);
    expect(info.info.spend).toBeCloseTo(cost, 10);

    // A key that is not an admin sees its own rows only.
    const { key: other } = await generateKey(suite!);
    await ask(other, 'other-gpt');
    const own = await eventually(async () => {
      const found = await api<any[]>(base, other, '/spend/logs');
      return found.length > 0 && found;
    });
    expect(own.every((row) => row.api_key !== token)).toBe(true);
    expect(own[0]).toMatchObject({ model_group: 'other-gpt', spend: 0 });
  });
});
