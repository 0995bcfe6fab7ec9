import type { Deployment } from '../models/deployments.js';
import { providerLabel, type ChatProvider } from './chat-provider.js';
import type { ChatChunk, ChatCompletion, ChatRequest } from './chat-types.js';
import { ProviderError } from './provider-error.js';
import { postJson, readJson, sseEvents, type ProviderRequest } from './provider-http.js';

/** Any OpenAI-compatible API (`openai/…` with its api_base): the request passes through with the provider's model id. */
export class OpenAiProvider implements ChatProvider {
  async complete(deployment: Deployment, request: ChatRequest, signal?: AbortSignal): Promise<ChatCompletion> {
    const res = await postJson(this.request(deployment, { ...request, stream: false }, signal));
    return readJson<ChatCompletion>(res, providerLabel(deployment));
  }

  async stream(deployment: Deployment, request: ChatRequest, signal?: AbortSignal): Promise<AsyncIterable<ChatChunk>> {
    const res = await postJson(this.request(deployment, { ...request, stream: true }, signal));
    const label = providerLabel(deployment);
    return (async function* () {
      for await (const { data } of sseEvents(res)) {
        if (data.startsWith('[DONE]')) return;
        let chunk: ChatChunk & { error?: { message?: string } };
        try {
          chunk = JSON.parse(data);
        } catch {
          throw new ProviderError('malformed', `${label} streamed an event that is not JSON`, 502);
        }
        if (chunk.error) throw new ProviderError('http', `${label} failed while streaming: ${chunk.error.message ?? 'unknown error'}`, 502);
        yield chunk;
      }
    })();
  }

  private request(deployment: Deployment, body: ChatRequest, signal: AbortSignal | undefined): ProviderRequest {
    const { stream_options, ...rest } = body;
    return {
      url: `${deployment.apiBase}/chat/completions`,
      headers: deployment.apiKey ? { authorization: `Bearer ${deployment.apiKey}` } : {},
      // Usage is always asked for when streaming: it is what spend is counted from.
      body: { ...rest, model: deployment.model, ...(body.stream ? { stream_options: { ...stream_options, include_usage: true } } : {}) },
      timeoutMs: deployment.timeoutMs,
      apiKey: deployment.apiKey,
      label: providerLabel(deployment),
      signal,
    };
  }
}
