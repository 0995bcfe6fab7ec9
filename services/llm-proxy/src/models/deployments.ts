import { z } from 'zod';
import type { ModelEntry } from '#libs/config';
import { formatZodIssues } from '#libs/contracts';

export type ProviderKind = 'openai' | 'anthropic';

/** One entry of `model_list`, ready to call. Several may share a model_name (LiteLLM's load balancing). */
export interface Deployment {
  /** The name clients ask for. */
  modelName: string;
  provider: ProviderKind;
  /** The provider's own model id (`gpt-4o` of `openai/gpt-4o`). */
  model: string;
  /** Where the provider's API lives, without a trailing slash (`https://api.openai.com/v1`). */
  apiBase: string;
  apiKey: string | undefined;
  /** Inactivity limit for one provider request (litellm_params.timeout, seconds → ms). */
  timeoutMs: number;
  /** How many times a failed attempt (connection error, timeout, 408/409/429/5xx) is tried again. */
  maxRetries: number;
  inputCostPerToken: number;
  outputCostPerToken: number;
  /** Anthropic requires max_tokens: used when the request gives none. */
  defaultMaxTokens: number;
}

const DEFAULT_API_BASE: Record<ProviderKind, string> = { openai: 'https://api.openai.com/v1', anthropic: 'https://api.anthropic.com' };
const DEFAULT_TIMEOUT_S = 600;
const DEFAULT_MAX_RETRIES = 2;

/** litellm_params and model_info fields llm-proxy acts on (others are accepted and ignored, as LiteLLM's are many). */
const Params = z.looseObject({
  timeout: z.coerce.number().positive('expected a number of seconds above 0').optional(),
  max_retries: z.coerce.number().int().min(0).max(10).optional(),
  num_retries: z.coerce.number().int().min(0).max(10).optional(),
  input_cost_per_token: z.coerce.number().min(0).optional(),
  output_cost_per_token: z.coerce.number().min(0).optional(),
  max_tokens: z.coerce.number().int().positive().optional(),
});

/** Prefixes of `model` that mean "an OpenAI-compatible API at api_base" (LiteLLM's names for such servers). */
const OPENAI_COMPATIBLE = new Set(['openai', 'openai_compatible', 'custom_openai', 'hosted_vllm', 'vllm', 'lm_studio', 'llamafile', 'ollama_chat', 'text-completion-openai']);

/** Reads `model_list`; a provider it cannot call or a malformed parameter is a start-up error naming the entry. */
export function readDeployments(entries: readonly ModelEntry[]): Deployment[] {
  const problems: string[] = [];
  const deployments = entries.flatMap((entry, i): Deployment[] => {
    const path = `model_list.${i}.litellm_params`;
    const params = Params.safeParse(entry.litellm_params);
    const info = Params.safeParse(entry.model_info ?? {});
    if (!params.success) problems.push(formatZodIssues(params.error.issues, path));
    if (!info.success) problems.push(formatZodIssues(info.error.issues, `model_list.${i}.model_info`));
    if (!params.success || !info.success) return [];
    const slash = entry.litellm_params.model.indexOf('/');
    const prefix = slash > 0 ? entry.litellm_params.model.slice(0, slash) : 'openai';
    const provider: ProviderKind | undefined = prefix === 'anthropic' ? 'anthropic' : OPENAI_COMPATIBLE.has(prefix) || entry.litellm_params.api_base ? 'openai' : undefined;
    if (!provider) {
      problems.push(`${path}.model: provider "${prefix}" is not supported: use openai/… (any OpenAI-compatible api_base) or anthropic/…`);
      return [];
    }
    const p = { ...info.data, ...params.data };
    return [
      {
        modelName: entry.model_name,
        provider,
        model: slash > 0 ? entry.litellm_params.model.slice(slash + 1) : entry.litellm_params.model,
        apiBase: (entry.litellm_params.api_base ?? DEFAULT_API_BASE[provider]).replace(/\/+$/, ''),
        apiKey: entry.litellm_params.api_key,
        timeoutMs: (p.timeout ?? DEFAULT_TIMEOUT_S) * 1000,
        maxRetries: p.max_retries ?? p.num_retries ?? DEFAULT_MAX_RETRIES,
        inputCostPerToken: p.input_cost_per_token ?? 0,
        outputCostPerToken: p.output_cost_per_token ?? 0,
        defaultMaxTokens: p.max_tokens ?? 4096,
      },
    ];
  });
  if (problems.length > 0) throw new Error(`model_list is invalid:\n${problems.join('\n')}`);
  return deployments;
}
