import { Logger } from '@nestjs/common';
import { connect, createInbox, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { DomainError, type Contract, type EventContract, type PayloadOf } from '#libs/contracts';
import { Bus, type CallOptions, type ServeHandler, type SubscribeOptions } from './bus.js';
import { Heartbeats, lostStreamedMessage, RECONNECT_GRACE_MS, SilenceWatch, silentCallee } from './liveness.js';
import { answerCall, busTimeout, noResponders, parseStreamed, type WireReply, type WireRequest } from './wire.js';

export interface NatsBusOptions {
  url: string;
  /** Put in front of every subject, so that two deployments (or test runs) on one NATS never meet. */
  namespace?: string;
  name?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const encodeJson = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));
const decodeJson = (bytes: Uint8Array): unknown => JSON.parse(decoder.decode(bytes));

/**
 * Framing, in headers so that the common case (one message each way) carries none:
 * - a message without `Sb-Frame` is a whole request (to a service) or a whole reply (to a caller's inbox);
 * - `Sb-Frame: m` is a message streamed ahead of the reply, `r` the reply, `c` "send the rest of your request to
 *   the subject in `Sb-Continue`";
 * - `Sb-Part: i/n` marks part i of a body cut in n because it exceeds the server's max_payload. A caller's inbox
 *   receives from one publisher in order, so the parts of a reply are simply concatenated. A request's first part
 *   goes to the queue group; the replica that takes it answers `c` with a private subject for the other parts;
 * - `Sb-Frame: h` is a heartbeat (no body) of a call still being worked on, `Sb-Sent` the messages streamed so far
 *   (liveness.ts); sent only to callers that ask for them (`meta.hb`, or `Sb-Beats` on a chunked request's first
 *   part): a client of the public admin subjects gets its reply as the first message, as plain NATS request-reply.
 */
const FRAME = 'Sb-Frame';
const PART = 'Sb-Part';
const CONTINUE = 'Sb-Continue';
const SENT = 'Sb-Sent';
/** On the first part of a chunked request: the caller takes heartbeats (a whole request says so in its meta, `hb`). */
const BEATS = 'Sb-Beats';
/** Room left in every message for the subject, reply and headers. */
const ENVELOPE_BYTES = 8 * 1024;
/** How long a replica waits for the rest of a chunked request before it gives up. */
const ASSEMBLY_TIMEOUT_MS = 30_000;

interface PendingCall {
  contract: Contract;
  timeoutMs: number;
  resolve: (reply: WireReply) => void;
  reject: (error: Error) => void;
  onMessage?: (message: unknown) => void;
  /** Parts of a body being received. */
  parts: Uint8Array[];
  /** Set while a chunked request waits for the subject of its remaining parts. */
  onContinue?: (subject: string) => void;
  /** Streamed messages received (a heartbeat naming more means one was lost). */
  received?: number;
}

/** The distributed suite's bus, on nats.js directly (not Nest's ClientProxy: NATS's "no responders" is fast). */
export class NatsBus extends Bus {
  readonly kind = 'nats' as const;
  private readonly log = new Logger('NatsBus');
  private readonly subscriptions = new Set<Subscription>();
  private readonly pending = new Map<string, PendingCall>();
  private readonly inbox = createInbox();
  private nextToken = 0;
  /** Calls whose replica went silent (killed mid-call) are given up (liveness.ts). */
  private readonly silence = new SilenceWatch<PendingCall>((call) => call.reject(silentCallee(call.contract)));
  private readonly heartbeats = new Heartbeats((replyTo, streamed) => this.sendHeartbeat(replyTo, streamed));

  private constructor(
    /** For tests that must put malformed bytes on the wire; services never touch it. */
    readonly connection: NatsConnection,
    readonly namespace: string,
  ) {
    super();
    // what was said to this connection while it was away is lost: calls in flight then get a short grace (liveness.ts)
    this.onReconnect(() => this.silence.expedite(RECONNECT_GRACE_MS));
    // One subscription receives every reply, streamed message and part for this connection's calls.
    this.subscriptions.add(
      connection.subscribe(`${this.inbox}.*`, {
        callback: (err, msg) => {
          if (!err) this.receive(msg);
        },
      }),
    );
  }

  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const { servers, credentials } = natsServer(options.url);
    // noAsyncTraces: nats.js would otherwise build an Error (with a stack) on every request just in case it fails.
    const connection = await connect({ servers, ...credentials, name: options.name, maxReconnectAttempts: -1, reconnectTimeWait: 500, noAsyncTraces: true });
    return new NatsBus(connection, options.namespace ? `${options.namespace}.` : '');
  }

  subject(subject: string): string {
    return this.namespace + subject;
  }

  /** The largest body one message carries here (the server's max_payload less room for headers). */
  get chunkBytes(): number {
    return Math.max(1024, (this.connection.info?.max_payload ?? 1024 * 1024) - ENVELOPE_BYTES);
  }

  protected send(contract: Contract, wire: WireRequest, timeoutMs: number, onMessage: ((message: unknown) => void) | undefined): Promise<WireReply> {
    const body = encodeJson({ ...wire, meta: { ...wire.meta, hb: 1 } }); // this caller takes heartbeats (liveness.ts)
    const token = String(++this.nextToken);
    const replyTo = `${this.inbox}.${token}`;
    let timer: NodeJS.Timeout | undefined;
    let pending: PendingCall | undefined;
    return new Promise<WireReply>((resolve, reject) => {
      const call: PendingCall = { contract, timeoutMs, resolve, reject, onMessage, parts: [] };
      this.pending.set(token, call);
      this.silence.watch((pending = call));
      timer = setTimeout(() => reject(busTimeout(contract, timeoutMs)), timeoutMs);
      try {
        this.sendRequest(call, this.subject(contract.subject), replyTo, body);
      } catch (error) {
        reject(this.failure(contract, error));
      }
    }).finally(() => {
      clearTimeout(timer);
      this.pending.delete(token);
      this.silence.forget(pending!);
    });
  }

  override get maxEventBytes(): number {
    return this.chunkBytes;
  }

  publish<E extends EventContract>(event: E, payload: PayloadOf<E>): void {
    const body = encodeJson(event.payload.parse(payload));
    if (body.length > this.chunkBytes) {
      this.log.error(`${event.name} not published: ${body.length} bytes exceed the bus's ${this.chunkBytes} per event`);
      return;
    }
    this.connection.publish(this.subject(event.subject), body);
  }

  subscribe<E extends EventContract>(event: E, handler: (payload: PayloadOf<E>) => void | Promise<void>, options: SubscribeOptions = {}): () => void {
    const sub = this.connection.subscribe(this.subject(event.subject), {
      ...(options.queue ? { queue: options.queue } : {}),
      callback: (err, msg) => {
        if (err) return;
        let payload: PayloadOf<E>;
        try {
          payload = event.payload.parse(msg.json()) as PayloadOf<E>;
        } catch {
          this.log.warn(`dropped a malformed ${event.name} event`);
          return;
        }
        void Promise.resolve()
          .then(() => handler(payload))
          .catch((error) => this.log.warn(`${event.name} handler failed: ${(error as Error).message}`));
      },
    });
    this.subscriptions.add(sub);
    return () => {
      sub.unsubscribe();
      this.subscriptions.delete(sub);
    };
  }

  serve(contract: Contract, queueGroup: string, handler: ServeHandler): () => void {
    const subject = this.subject(contract.subject);
    const sub = this.connection.subscribe(subject, {
      queue: queueGroup,
      callback: (err, msg) => {
        if (err || !msg.reply) return;
        void this.answer(contract, handler, msg).catch((error) => this.log.error(`${contract.name}: could not answer: ${(error as Error).message}`));
      },
    });
    this.subscriptions.add(sub);
    return () => {
      sub.unsubscribe();
      this.subscriptions.delete(sub);
    };
  }

  onReconnect(listener: () => void): void {
    void (async () => {
      for await (const status of this.connection.status()) {
        if (status.type === 'reconnect') listener();
      }
    })().catch(() => undefined);
  }

  isConnected(): boolean {
    return !this.connection.isClosed();
  }

  async flush(): Promise<void> {
    await this.connection.flush();
  }

  async close(): Promise<void> {
    this.silence.stop();
    this.heartbeats.stop();
    if (this.connection.isClosed()) return;
    await this.connection.drain().catch(() => this.connection.close());
  }

  // ---- caller side ---------------------------------------------------------------------------------------

  private sendRequest(call: PendingCall, subject: string, replyTo: string, body: Uint8Array): void {
    const parts = this.split(body);
    if (parts.length === 1) {
      this.connection.publish(subject, body, { reply: replyTo });
      return;
    }
    call.onContinue = (rest) => {
      call.onContinue = undefined;
      for (let i = 1; i < parts.length; i++) this.connection.publish(rest, parts[i], { headers: partHeaders(i, parts.length) });
    };
    const first = partHeaders(0, parts.length);
    first.set(BEATS, '1');
    this.connection.publish(subject, parts[0], { reply: replyTo, headers: first });
  }

  /** Everything that arrives at this connection's inbox: replies, streamed messages, parts and continues. */
  private receive(msg: Msg): void {
    const token = msg.subject.slice(this.inbox.length + 1);
    const call = this.pending.get(token);
    if (!call) return; // the call timed out already
    this.silence.alive(call);
    const h = msg.headers;
    if (h && h.code === 503 && msg.data.length === 0) return call.reject(noResponders(call.contract));
    if (!h) return this.complete(call, msg.data);
    const frame = h.get(FRAME);
    if (frame === 'h') {
      if (Number(h.get(SENT) || 0) > (call.received ?? 0)) call.reject(lostStreamedMessage(call.contract));
      return;
    }
    if (frame === 'c') return call.onContinue?.(h.get(CONTINUE));
    const body = this.assemble(call.parts, h, msg.data);
    if (!body) return;
    if (frame === 'm') {
      call.received = (call.received ?? 0) + 1;
      try {
        call.onMessage?.(parseStreamed(call.contract, decodeJson(body)));
      } catch (error) {
        this.log.warn(`${call.contract.name}: dropped a malformed streamed message: ${(error as Error).message}`);
      }
      return;
    }
    this.complete(call, body);
  }

  private complete(call: PendingCall, body: Uint8Array): void {
    try {
      call.resolve(decodeJson(body) as WireReply);
    } catch (error) {
      call.reject(this.failure(call.contract, error));
    }
  }

  // ---- service side --------------------------------------------------------------------------------------

  private async answer(contract: Contract, handler: ServeHandler, msg: Msg): Promise<void> {
    const replyTo = msg.reply!;
    if (msg.headers?.get(BEATS) === '1') this.heartbeats.begin(replyTo);
    try {
      await this.answerBeating(contract, handler, msg, replyTo);
    } finally {
      this.heartbeats.end(replyTo);
    }
  }

  private async answerBeating(contract: Contract, handler: ServeHandler, msg: Msg, replyTo: string): Promise<void> {
    const body = msg.headers?.get(PART) ? await this.receiveRest(msg) : msg.data;
    if (!body) return; // the caller never sent the rest; it has timed out
    let wire: WireRequest;
    try {
      wire = decodeJson(body) as WireRequest;
    } catch {
      this.sendFrame(replyTo, 'r', encodeJson({ ok: false, error: { code: 'INVALID_ARGUMENT', message: 'the request is not JSON', retryable: false } }));
      return;
    }
    if ((wire?.meta as { hb?: unknown } | undefined)?.hb === 1) this.heartbeats.begin(replyTo);
    const { reply, internal } = await answerCall(contract, handler, msg.subject, wire, (message) => this.sendFrame(replyTo, 'm', encodeJson(message)));
    if (internal) this.log.error(internal);
    this.sendFrame(replyTo, 'r', encodeJson(reply));
  }

  /** Collects the other parts of a chunked request on a private subject announced to the caller. */
  private receiveRest(first: Msg): Promise<Uint8Array | undefined> {
    const parts: Uint8Array[] = [];
    const whole = this.assemble(parts, first.headers!, first.data);
    if (whole) return Promise.resolve(whole);
    const rest = createInbox();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        sub.unsubscribe();
        resolve(undefined);
      }, ASSEMBLY_TIMEOUT_MS);
      const sub = this.connection.subscribe(rest, {
        callback: (err, msg) => {
          if (err || !msg.headers) return;
          const body = this.assemble(parts, msg.headers, msg.data);
          if (!body) return;
          clearTimeout(timer);
          sub.unsubscribe();
          resolve(body);
        },
      });
      const h = natsHeaders();
      h.set(FRAME, 'c');
      h.set(CONTINUE, rest);
      this.connection.publish(first.reply!, undefined, { headers: h });
    });
  }

  private sendHeartbeat(replyTo: string, streamed: number): void {
    const h = natsHeaders();
    h.set(FRAME, 'h');
    if (streamed > 0) h.set(SENT, String(streamed));
    this.connection.publish(replyTo, undefined, { headers: h });
  }

  /** Sends one frame to a caller's inbox, cut in parts when it exceeds max_payload. */
  private sendFrame(replyTo: string, frame: 'm' | 'r', body: Uint8Array): void {
    if (frame === 'm') this.heartbeats.streamed(replyTo);
    const parts = this.split(body);
    if (parts.length === 1 && frame === 'r') {
      this.connection.publish(replyTo, body);
      return;
    }
    parts.forEach((part, i) => {
      const h = parts.length > 1 ? partHeaders(i, parts.length) : natsHeaders();
      h.set(FRAME, frame);
      this.connection.publish(replyTo, part, { headers: h });
    });
  }

  // ---- parts ---------------------------------------------------------------------------------------------

  private split(body: Uint8Array): Uint8Array[] {
    const size = this.chunkBytes;
    if (body.length <= size) return [body];
    const parts: Uint8Array[] = [];
    for (let offset = 0; offset < body.length; offset += size) parts.push(body.subarray(offset, offset + size));
    return parts;
  }

  /** Adds a part; returns the whole body once the last part arrived (or at once for an unsplit body). */
  private assemble(parts: Uint8Array[], h: MsgHdrs, data: Uint8Array): Uint8Array | undefined {
    const part = h.get(PART);
    if (!part) return data;
    const [index, count] = part.split('/').map(Number);
    parts.push(data);
    if (index! < count! - 1) return undefined;
    const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts.splice(0)) {
      whole.set(p, offset);
      offset += p.length;
    }
    return whole;
  }

  private failure(contract: Contract, error: unknown): DomainError {
    const message = (error as Error)?.message ?? String(error);
    this.log.error(`${contract.name} failed on the bus: ${message}`);
    return new DomainError('INTERNAL', `${contract.name} failed on the bus: ${message}`, { subject: contract.subject });
  }
}

/**
 * NATS_URL as nats.js wants it: the server without the scheme, and the credentials of `nats://user:password@host:port`
 * as options, since nats.js ignores credentials written in the URL. Percent-encoded characters in them are decoded.
 * (The start-up line shows the URL with the password masked.)
 */
export function natsServer(url: string): { servers: string; credentials: { user?: string; pass?: string } } {
  const match = /^(?:nats:\/\/)?(?:([^@/]*)@)?([^@]+)$/.exec(url);
  if (!match?.[1]) return { servers: url.replace(/^nats:\/\//, ''), credentials: {} };
  const [user, ...rest] = match[1].split(':');
  const decode = (s: string) => decodeURIComponent(s);
  const credentials = rest.length > 0 ? { user: decode(user!), pass: decode(rest.join(':')) } : { user: decode(user!) };
  return { servers: match[2]!, credentials };
}

function partHeaders(index: number, count: number): MsgHdrs {
  const h = natsHeaders();
  h.set(PART, `${index}/${count}`);
  return h;
}
