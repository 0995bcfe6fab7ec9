/**
 * Event ids of a POST's SSE response, and what a client resuming one gets. A POST's stream (a call that sent
 * progress or a request to the client before its reply) lives only as long as that HTTP response: it is not kept
 * for replay. A client that loses it (the edge replica carrying it was killed, the connection dropped) resumes
 * with a GET carrying its last event id, per the transport; without an answer it would wait for its own timeout.
 * So the ids of a single request's POST stream name the request (`p.{edge instance}.{request id}.{n}`), and the
 * GET that resumes one gets, first on its stream, a JSON-RPC error for that request: the reply is lost, the
 * request may or may not have been carried out, and the client decides whether to send it again.
 */
import { errorJson, JsonRpcErrorCode } from './jsonrpc.js';

const MAX_ID_CHARS = 512;

/** The prefix of a single request's POST stream event ids (the event number follows). */
export function postStreamIdPrefix(instance: string, requestId: string | number): string | undefined {
  const encoded = Buffer.from(JSON.stringify(requestId), 'utf8').toString('base64url');
  return encoded.length > MAX_ID_CHARS ? undefined : `p.${instance}.${encoded}.`;
}

/** The request a POST stream event id names, or undefined for any other id. */
export function parsePostStreamId(eventId: string | undefined): { instance: string; requestId: string | number } | undefined {
  if (typeof eventId !== 'string' || eventId.length > MAX_ID_CHARS + 64) return undefined;
  const match = /^p\.([0-9a-f]{1,32})\.([A-Za-z0-9_-]+)\.\d+$/.exec(eventId);
  if (!match) return undefined;
  try {
    const requestId = JSON.parse(Buffer.from(match[2]!, 'base64url').toString('utf8')) as unknown;
    return typeof requestId === 'string' || typeof requestId === 'number' ? { instance: match[1]!, requestId } : undefined;
  } catch {
    return undefined;
  }
}

/** The SSE frame telling a resuming client that its request's reply is lost. */
export function lostReplyFrame(requestId: string | number): string {
  const json = errorJson(
    requestId,
    JsonRpcErrorCode.INTERNAL_ERROR,
    'the response stream of this request was lost before its reply (a gateway replica stopped or the connection dropped); the request may or may not have been carried out',
    { reason: 'stream_lost', retryable: true },
  );
  return `event: message\ndata: ${json}\n\n`;
}
