import { z } from 'zod';

/** A request-reply call on the bus: one subject, one zod schema each way. Both ends parse. */
export interface Contract<Req extends z.ZodType = z.ZodType, Rep extends z.ZodType = z.ZodType> {
  readonly kind: 'call';
  readonly name: string;
  readonly subject: string;
  readonly request: Req;
  readonly reply: Rep;
  /** The messages the callee may stream before its reply (progress, logs, server-to-client requests). */
  readonly message?: z.ZodType;
}

/** A fire-and-forget broadcast: every replica of every subscriber receives it (no queue group). */
export interface EventContract<Payload extends z.ZodType = z.ZodType> {
  readonly kind: 'event';
  readonly name: string;
  readonly subject: string;
  readonly payload: Payload;
}

export type RequestOf<C extends Contract> = z.infer<C['request']>;
export type ReplyOf<C extends Contract> = z.infer<C['reply']>;
export type PayloadOf<E extends EventContract> = z.infer<E['payload']>;

export function defineContract<Req extends z.ZodType, Rep extends z.ZodType>(
  name: string,
  subject: string,
  request: Req,
  reply: Rep,
  message?: z.ZodType,
): Contract<Req, Rep> {
  return { kind: 'call', name, subject, request, reply, ...(message ? { message } : {}) };
}

export function defineEvent<Payload extends z.ZodType>(
  name: string,
  subject: string,
  payload: Payload,
): EventContract<Payload> {
  return { kind: 'event', name, subject, payload };
}
