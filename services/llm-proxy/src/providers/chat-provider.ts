import type { Deployment } from '../models/deployments.js';
import type { ChatChunk, ChatCompletion, ChatRequest } from './chat-types.js';

/**
 * One provider API behind the OpenAI chat format. `stream` resolves once the provider accepted the request
 * (so an error status is still a clean rejection) and yields chunks as they arrive.
 */
export interface ChatProvider {
  /** `signal`: aborting it gives the request up (the connection closes, also mid-stream). */
  complete(deployment: Deployment, request: ChatRequest, signal?: AbortSignal): Promise<ChatCompletion>;
  stream(deployment: Deployment, request: ChatRequest, signal?: AbortSignal): Promise<AsyncIterable<ChatChunk>>;
}

/** How errors name a deployment: `openai (model "gpt-4o")`. Never the key. */
export function providerLabel(deployment: Deployment): string {
  return `${deployment.provider} (model "${deployment.modelName}")`;
}
