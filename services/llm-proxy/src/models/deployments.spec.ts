import { describe, expect, it } from 'vitest';
import { readDeployments } from './deployments.js';

describe('readDeployments', () => {
  it('reads the provider, the model id, api_base, timeout, retries and prices of each entry', () => {
    const [openai, anthropic, vllm] = readDeployments([
      { model_name: 'gpt', litellm_params: { model: 'openai/gpt-4o', api_key: 'sk-x', timeout: 2.5, max_retries: 0, input_cost_per_token: 0.001 } },
      { model_name: 'claude', litellm_params: { model: 'anthropic/claude-sonnet' }, model_info: { output_cost_per_token: 0.002 } },
      { model_name: 'local', litellm_params: { model: 'hosted_vllm/llama', api_base: 'http://127.0.0.1:8000/v1/' } },
    ]);
    expect(openai).toMatchObject({ provider: 'openai', model: 'gpt-4o', apiBase: 'https://api.openai.com/v1', timeoutMs: 2500, maxRetries: 0, inputCostPerToken: 0.001 });
    expect(anthropic).toMatchObject({ provider: 'anthropic', model: 'claude-sonnet', apiBase: 'https://api.anthropic.com', maxRetries: 2, outputCostPerToken: 0.002 });
    expect(vllm).toMatchObject({ provider: 'openai', model: 'llama', apiBase: 'http://127.0.0.1:8000/v1' });
  });

  it('names each entry it cannot use', () => {
    expect(() =>
      readDeployments([
        { model_name: 'a', litellm_params: { model: 'bedrock/claude' } },
        { model_name: 'b', litellm_params: { model: 'openai/x', timeout: -1 } },
      ]),
    ).toThrow(/model_list\.0\.litellm_params\.model: provider "bedrock" is not supported[\s\S]*model_list\.1\.litellm_params\.timeout: /);
  });
});
