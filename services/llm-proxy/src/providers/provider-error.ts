/**
 * What went wrong talking to a provider. `unreachable` and `timeout` never got an answer; `http` got an error
 * status; `cancelled`: the gateway gave the request up (its client went away). Messages are already scrubbed of
 * the provider key.
 */
export class ProviderError extends Error {
  constructor(
    readonly kind: 'unreachable' | 'timeout' | 'http' | 'malformed' | 'cancelled',
    message: string,
    readonly status?: number,
    /** The provider's own error fields, for the OpenAI-shaped error the caller gets. */
    readonly providerError: { type?: string; param?: string | null; code?: string | null } = {},
  ) {
    super(message);
    this.name = 'ProviderError';
  }

  /** Worth another attempt: no answer, or 408/409/429/5xx. */
  get retryable(): boolean {
    if (this.kind === 'unreachable' || this.kind === 'timeout') return true;
    return this.kind === 'http' && this.status !== undefined && (this.status === 408 || this.status === 409 || this.status === 429 || this.status >= 500);
  }
}

/** Removes the key from text a provider sent back (providers quote a rejected key in their errors). */
export function scrubKey(text: string, apiKey: string | undefined): string {
  let out = text;
  if (apiKey && apiKey.length >= 4) out = out.split(apiKey).join('***');
  return out.replace(/\bsk-[A-Za-z0-9_*.-]{6,}/g, 'sk-***');
}
