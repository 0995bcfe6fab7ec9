import { context } from '@opentelemetry/api';
import { DomainError, ErrorEnvelope, toErrorEnvelope, type Contract, type RequestMeta } from '#libs/contracts';
import { inSpan, remoteContext, SpanKind } from '#libs/observability';
import type { ServeHandler } from './bus.js';

/** What travels for a call, and what comes back: the same shapes on every bus. */
export interface WireRequest {
  meta: RequestMeta;
  data: unknown;
}
export type WireReply = { ok: true; data: unknown; parsed?: true } | { ok: false; error: ErrorEnvelope };
// `parsed`: never on a wire; set by the in-process bus when the callee's parse used the caller's own reply schema

export interface Answer {
  reply: WireReply;
  /** The error an INTERNAL reply came from, for the server's log. */
  internal?: string;
}

/**
 * Runs `handler` for one call, identically on every bus: parses the request with the contract, lets the handler
 * stream messages (parsed with the contract's `message` schema), parses the reply, and turns any failure into the
 * error envelope. Never throws.
 */
export async function answerCall(
  contract: Contract,
  handler: ServeHandler,
  subject: string,
  wire: WireRequest,
  send: (message: unknown) => void,
): Promise<Answer> {
  const meta = wire?.meta ?? {};
  // the handler runs in the caller's trace (a server span) and request id, so its log lines carry them
  const parent = meta.traceparent || meta.request_id ? remoteContext(meta.traceparent, meta.request_id) : context.active();
  return inSpan(`serve ${contract.name}`, SpanKind.SERVER, { 'messaging.destination.name': contract.subject }, () => answerInContext(contract, handler, subject, wire, meta, send), parent);
}

async function answerInContext(
  contract: Contract,
  handler: ServeHandler,
  subject: string,
  wire: WireRequest,
  meta: RequestMeta,
  send: (message: unknown) => void,
): Promise<Answer> {
  try {
    const data = contract.request.parse(wire?.data);
    let finished = false;
    const output = await handler(data, {
      subject,
      meta,
      send: (message) => {
        if (finished) throw new Error(`${contract.name}: a message was streamed after the reply`);
        send(contract.message ? contract.message.parse(message) : message);
      },
    });
    finished = true;
    return { reply: { ok: true, data: contract.reply.parse(output) } };
  } catch (error) {
    const parsed = ErrorEnvelope.safeParse(error);
    const envelope = parsed.success ? parsed.data : toErrorEnvelope(error);
    return { reply: { ok: false, error: envelope }, ...(envelope.code === 'INTERNAL' ? { internal: `${contract.name}: ${envelope.message}` } : {}) };
  }
}

/** The caller's side: the callee's reply as the contract's type, or its DomainError thrown. */
export function settleReply<R>(contract: Contract, reply: WireReply): R {
  if (!reply || typeof reply !== 'object') throw new DomainError('INTERNAL', `${contract.name} answered with a malformed reply`);
  if (!reply.ok) throw DomainError.fromEnvelope(ErrorEnvelope.parse(reply.error));
  return (reply.parsed ? reply.data : contract.reply.parse(reply.data)) as R;
}

/** A streamed message as the caller's `onMessage` sees it, parsed again on the receiving side. */
export function parseStreamed(contract: Contract, message: unknown): unknown {
  return contract.message ? contract.message.parse(message) : message;
}

/** The wire meta of a call: the effective deadline (never later than the caller's own) and the trace. */
export function wireMeta(timeoutMs: number, deadline: number | undefined, traceparent: string | undefined): { meta: RequestMeta; timeout: number } {
  const now = Date.now();
  const effective = Math.min(deadline ?? Infinity, now + timeoutMs);
  return { meta: { deadline: effective, ...(traceparent ? { traceparent } : {}) }, timeout: Math.max(1, effective - now) };
}

export const noResponders = (contract: Contract): DomainError =>
  new DomainError('UPSTREAM_UNAVAILABLE', `no service is answering ${contract.name}`, { subject: contract.subject, no_responders: true }, true);

/**
 * True when a call failed because no service answered its subject, at this hop or at any hop behind it (the
 * envelope keeps the details across the bus): the callee's work was never attempted.
 */
export function isNoResponders(error: unknown): boolean {
  return DomainError.is(error, 'UPSTREAM_UNAVAILABLE') && error.details?.no_responders === true;
}

export const busTimeout = (contract: Contract, timeoutMs: number): DomainError =>
  new DomainError('BUS_TIMEOUT', `${contract.name} did not answer within ${timeoutMs} ms`, { subject: contract.subject });
