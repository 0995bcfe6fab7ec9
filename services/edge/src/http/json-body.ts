import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { DomainError, formatZodIssues } from '#libs/contracts';
import { HttpProblem } from './http-problem.js';

export const JSONRPC_PARSE_ERROR = -32700;

/** Reads the raw body up to `limit` bytes: 413 beyond it (checked on Content-Length first, then while reading). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) {
    req.resume();
    return Promise.reject(new HttpProblem(413, `request body exceeds ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume();
        reject(new HttpProblem(413, `request body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** Reads and parses a JSON body. `jsonRpc` makes a parse failure a JSON-RPC -32700 error (still HTTP 400). */
export async function readJsonBody(req: IncomingMessage, limit: number, options: { jsonRpc?: boolean } = {}): Promise<unknown> {
  const raw = await readBody(req, limit);
  if (raw.length === 0) {
    throw new HttpProblem(400, 'request body is empty', options.jsonRpc ? JSONRPC_PARSE_ERROR : undefined);
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new HttpProblem(400, `Parse error: ${(error as Error).message}`, options.jsonRpc ? JSONRPC_PARSE_ERROR : undefined);
  }
}

/** A REST body read and validated against `schema`: problems come back as 400s naming each field. */
export async function parseJsonBody<S extends z.ZodType>(req: IncomingMessage, limit: number, schema: S): Promise<z.infer<S>> {
  const body = await readJsonBody(req, limit);
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw new DomainError('INVALID_ARGUMENT', formatZodIssues(result.error.issues), {
    fields: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
  });
}
