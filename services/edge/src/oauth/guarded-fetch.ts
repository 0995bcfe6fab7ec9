import http from 'node:http';
import https from 'node:https';
import { UpstreamUrlGuard } from '#libs/net-guard';

const MAX_BYTES = 512 * 1024;
const TIMEOUT_MS = 5_000;

export class FetchFailed extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FetchFailed';
  }
}

/** A form POST instead of a GET (token introspection), with the client's Authorization. */
export interface FormPost {
  form: Record<string, string>;
  authorization?: string;
}

/** GETs (or POSTs a form for) a JSON document: the parsed JSON for 200; a FetchFailed naming the problem otherwise. */
export type JsonFetcher = (url: string, post?: FormPost) => Promise<unknown>;

/**
 * Fetches a JSON document (a JWKS, authorization server metadata, an introspection answer) under the upstream
 * address rules: the literal address checked first, every resolved address checked by the guard's lookup as the
 * socket connects; no redirects, 5 s, 512 KiB at most.
 */
export function guardedJsonFetcher(guard: UpstreamUrlGuard): JsonFetcher {
  return (url, post) =>
    new Promise((resolve, reject) => {
      let parsed: URL;
      try {
        parsed = guard.checkLiteral(url).url;
      } catch (error) {
        reject(new FetchFailed(`${url}: ${(error as Error).message}`));
        return;
      }
      const lib = parsed.protocol === 'https:' ? https : http;
      const body = post ? new URLSearchParams(post.form).toString() : undefined;
      const headers: Record<string, string> = { accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      if (post?.authorization) headers.authorization = post.authorization;
      const request = lib.request(parsed, { method: post ? 'POST' : 'GET', lookup: guard.lookup, headers, timeout: TIMEOUT_MS }, (response) => {
        const status = response.statusCode ?? 0;
        if (status !== 200) {
          response.resume();
          reject(new FetchFailed(`${url} answered HTTP ${status}`, status));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BYTES) {
            request.destroy(new FetchFailed(`${url}: more than ${MAX_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch {
            reject(new FetchFailed(`${url}: not JSON`));
          }
        });
        response.on('error', (error) => reject(new FetchFailed(`${url}: ${error.message}`)));
      });
      request.on('timeout', () => request.destroy(new FetchFailed(`${url}: no answer within ${TIMEOUT_MS} ms`)));
      request.on('error', (error) => reject(error instanceof FetchFailed ? error : new FetchFailed(`${url}: ${error.message}`)));
      request.end(body);
    });
}
