import { describe, expect, it } from 'vitest';
import { ModelsService } from './models.service.js';

describe('ModelsService', () => {
  it('lists each model_name once, owned by its provider prefix', () => {
    const sut = new ModelsService([
      { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o' } },
      { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o-2' } },
      { model_name: 'claude', litellm_params: { model: 'anthropic/claude-sonnet' } },
    ]);
    const { object, data } = sut.list();
    expect(object).toBe('list');
    expect(data.map((m) => [m.id, m.owned_by])).toEqual([
      ['gpt-4o', 'openai'],
      ['claude', 'anthropic'],
    ]);
  });
});
