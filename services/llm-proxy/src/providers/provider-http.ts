import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { ProviderError, scrubKey } from './provider-error.js';

/** Keep-alive agents: a provider call reuses its connection, which is most of the proxy's latency budget. */
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }),
};

export interface ProviderRequest {
  url: string;
  headers: Record<string, string>;
  body: unknown;
  /** Inactivity limit: no byte for this long (connecting, waiting, or between stream chunks) ends the request. */
  timeoutMs: number;
  /** Scrubbed from any error text. */
  apiKey: string | undefined;
  /** Names the provider in errors: `openai (model "gpt-4o")`. */
  label: string;
  /** Aborting it closes the connection, also while the caller reads the body: the provider stops generating. */
  signal?: AbortSignal;
}

/**
 * POSTs JSON and resolves with the response once a 2xx status arrived (its body still to read). An error status
 * rejects with ProviderError('http') carrying the provider's message; no answer rejects with 'unreachable' or
 * 'timeout'. The timeout keeps watching while the caller reads the body.
 */
export function postJson(request: ProviderRequest): Promise<IncomingMessage> {
  const url = new URL(request.url);
  const payload = Buffer.from(JSON.stringify(request.body));
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'POST',
      agent: agents[url.protocol as 'http:' | 'https:'],
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': payload.length, ...request.headers },
    });
    let answered = false;
    const signal = request.signal;
    if (signal) {
      const abort = () => req.destroy(new ProviderError('cancelled', `${request.label}: the request was given up (its client went away)`));
      if (signal.aborted) abort();
      else {
        signal.addEventListener('abort', abort, { once: true });
        req.once('close', () => signal.removeEventListener('abort', abort));
      }
    }
    req.setTimeout(request.timeoutMs, () => {
      req.destroy(new ProviderError('timeout', `${request.label} did not answer within ${request.timeoutMs / 1000}s`));
    });
    req.once('error', (error) => {
      if (answered) return;
      reject(error instanceof ProviderError ? error : new ProviderError('unreachable', `${request.label} is unreachable at ${url.origin}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
    });
    req.once('response', (res) => {
      answered = true;
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        // Errors while the caller reads the body (timeout, reset) surface on the response stream.
        req.on('error', (error) => res.destroy(error instanceof ProviderError ? error : new ProviderError('unreachable', `${request.label} closed the connection: ${error.message}`)));
        resolve(res);
        return;
      }
      readText(res).then(
        (text) => reject(httpError(status, text, request)),
        () => reject(new ProviderError('http', `${request.label} answered ${status}`, status)),
      );
    });
    req.end(payload);
  });
}

export async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function readJson<T>(res: IncomingMessage, label: string): Promise<T> {
  const text = await readText(res);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ProviderError('malformed', `${label} answered with a body that is not JSON`, 502);
  }
}

/** OpenAI `{error: {message, type, param, code}}` and Anthropic `{type: 'error', error: {type, message}}` alike. */
function httpError(status: number, text: string, request: ProviderRequest): ProviderError {
  let error: { message?: unknown; type?: unknown; param?: unknown; code?: unknown } | undefined;
  try {
    const body = JSON.parse(text);
    error = typeof body?.error === 'object' && body.error ? body.error : typeof body?.message === 'string' ? body : undefined;
  } catch {
    /* not JSON: the status alone */
  }
  const said = typeof error?.message === 'string' ? error.message : text.slice(0, 200);
  const message = scrubKey(`${request.label} answered ${status}${said ? `: ${said}` : ''}`, request.apiKey);
  return new ProviderError('http', message, status, {
    type: typeof error?.type === 'string' ? error.type : undefined,
    param: typeof error?.param === 'string' ? error.param : null,
    code: typeof error?.code === 'string' ? error.code : null,
  });
}

/** The `data` of each server-sent event of a response, with its event name, as they arrive. */
export async function* sseEvents(res: IncomingMessage): AsyncGenerator<{ event: string | undefined; data: string }> {
  let buffer = '';
  let event: string | undefined;
  let data: string[] = [];
  res.setEncoding('utf8');
  for await (const chunk of res as AsyncIterable<string>) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      if (line === '') {
        if (data.length > 0) yield { event, data: data.join('\n') };
        event = undefined;
        data = [];
      } else if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
      else if (line.startsWith('event:')) event = line.slice(6).trim();
    }
  }
  if (data.length > 0) yield { event, data: data.join('\n') };
}
