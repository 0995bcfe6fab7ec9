import { Inject, Injectable } from '@nestjs/common';
import type { ModelEntry } from '#libs/config';

export const MODEL_LIST = Symbol('MODEL_LIST');

/** The models of config.yaml's `model_list`, in OpenAI's list shape. */
@Injectable()
export class ModelsService {
  private readonly created = Math.floor(Date.now() / 1000);

  constructor(@Inject(MODEL_LIST) private readonly models: readonly ModelEntry[]) {}

  list() {
    const seen = new Set<string>();
    const data = this.models
      .filter((m) => !seen.has(m.model_name) && seen.add(m.model_name))
      .map((m) => ({ id: m.model_name, object: 'model' as const, created: this.created, owned_by: providerOf(m.litellm_params.model) }));
    return { object: 'list' as const, data };
  }
}

function providerOf(model: string): string {
  const slash = model.indexOf('/');
  return slash > 0 ? model.slice(0, slash) : 'openai';
}
