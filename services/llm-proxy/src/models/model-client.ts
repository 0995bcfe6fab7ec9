import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError } from '#libs/contracts';
import { AnthropicProvider } from '../providers/anthropic.provider.js';
import { providerLabel, type ChatProvider } from '../providers/chat-provider.js';
import type { ChatChunk, ChatCompletion, ChatRequest } from '../providers/chat-types.js';
import { OpenAiProvider } from '../providers/openai.provider.js';
import { ProviderError } from '../providers/provider-error.js';
import type { Deployment, ProviderKind } from './deployments.js';

export const DEPLOYMENTS = Symbol('DEPLOYMENTS');

const MAX_BACKOFF_MS = 2_000;

/**
 * Calls the deployments of a model_name: round-robin between them, each failed attempt (no answer, 408/409/429/5xx)
 * retried up to the deployment's max_retries on the next one with a short backoff. What finally fails becomes a
 * DomainError whose `details.http_status` is the provider's status (502 when none came, 504 on a timeout).
 */
@Injectable()
export class ModelClient {
  private readonly log = new Logger(ModelClient.name);
  private readonly byName = new Map<string, Deployment[]>();
  private readonly turns = new Map<string, number>();
  private readonly providers: Record<ProviderKind, ChatProvider> = { openai: new OpenAiProvider(), anthropic: new AnthropicProvider() };

  constructor(@Inject(DEPLOYMENTS) deployments: readonly Deployment[]) {
    for (const d of deployments) {
      const list = this.byName.get(d.modelName) ?? [];
      list.push(d);
      this.byName.set(d.modelName, list);
    }
  }

  /** Throws the OpenAI-shaped 400 naming `model` when model_list has no such model_name. */
  assertKnown(model: unknown): string {
    if (typeof model !== 'string' || !model) throw invalidModel('model: expected the name of a model of model_list');
    if (!this.byName.has(model)) {
      throw invalidModel(`model: "${model}" is not a model of this gateway; GET /v1/models lists them`, 'model_not_found');
    }
    return model;
  }

  /** `signal`: the request's cancellation (its client went away): no retry after it, and the provider request closes. */
  complete(model: string, request: ChatRequest, signal?: AbortSignal): Promise<{ completion: ChatCompletion; deployment: Deployment }> {
    return this.attempt(model, signal, async (d) => ({ completion: await this.providers[d.provider].complete(d, request, signal), deployment: d }));
  }

  /** Resolves once a provider accepted the streamed request; no retry once chunks flow. */
  stream(model: string, request: ChatRequest, signal?: AbortSignal): Promise<{ chunks: AsyncIterable<ChatChunk>; deployment: Deployment }> {
    return this.attempt(model, signal, async (d) => ({ chunks: this.guarded(d, await this.providers[d.provider].stream(d, request, signal)), deployment: d }));
  }

  private async attempt<T>(model: string, signal: AbortSignal | undefined, run: (deployment: Deployment) => Promise<T>): Promise<T> {
    const deployments = this.byName.get(this.assertKnown(model))!;
    const first = this.turns.get(model) ?? 0;
    this.turns.set(model, (first + 1) % deployments.length);
    for (let attempt = 0; ; attempt++) {
      const deployment = deployments[(first + attempt) % deployments.length]!;
      try {
        return await run(deployment);
      } catch (error) {
        if (!(error instanceof ProviderError)) throw error;
        if (!error.retryable || attempt >= deployment.maxRetries || signal?.aborted) throw toDomainError(error);
        this.log.warn(`${error.message}; retrying (${attempt + 1} of ${deployment.maxRetries})`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt)));
      }
    }
  }

  /** Turns failures while chunks flow (a provider error event, a connection that breaks) into DomainErrors too. */
  private async *guarded(deployment: Deployment, chunks: AsyncIterable<ChatChunk>): AsyncGenerator<ChatChunk> {
    try {
      yield* chunks;
    } catch (error) {
      if (error instanceof ProviderError) throw toDomainError(error);
      throw toDomainError(new ProviderError('unreachable', `${providerLabel(deployment)} broke off the stream: ${(error as Error).message}`));
    }
  }
}

/** The request was given up because its client went away (499: nginx's "client closed request"; nobody reads it). */
export function cancelledError(): DomainError {
  return new DomainError('UPSTREAM_UNAVAILABLE', 'the request was cancelled: its client went away', { http_status: 499, type: 'cancelled', reason: 'cancelled' });
}

function invalidModel(message: string, code = 'invalid_value'): DomainError {
  return new DomainError('INVALID_ARGUMENT', message, { param: 'model', code, type: 'invalid_request_error' });
}

export function toDomainError(error: ProviderError): DomainError {
  if (error.kind === 'cancelled') return cancelledError();
  if (error.kind === 'timeout') return new DomainError('UPSTREAM_TIMEOUT', error.message, { http_status: 504, type: 'timeout' });
  if (error.kind === 'unreachable' || error.kind === 'malformed' || error.status === undefined) {
    return new DomainError('UPSTREAM_UNAVAILABLE', error.message, { http_status: 502, type: 'api_connection_error' });
  }
  const status = error.status;
  const code = status === 429 ? 'RATE_LIMITED' : status >= 500 ? 'UPSTREAM_UNAVAILABLE' : status === 401 || status === 403 ? 'UPSTREAM_UNAVAILABLE' : 'INVALID_ARGUMENT';
  return new DomainError(code, error.message, {
    http_status: status,
    type: error.providerError.type ?? (status >= 500 ? 'api_error' : 'invalid_request_error'),
    param: error.providerError.param ?? null,
    code: error.providerError.code ?? null,
  });
}
