/**
 * The connector's client toward upstreams that speak MCP 2026-07-28: no session and no initialize, every request
 * an exchange of its own carrying the protocol version, the caller's capabilities and our identity in `_meta`,
 * mirrored in the MCP-Protocol-Version / Mcp-Method / Mcp-Name headers. It offers the few calls the pool makes of
 * the SDK's Client (request, capabilities, server info), so the pool treats both eras alike.
 */
import { ErrorCode, McpError, type ClientCapabilities, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Cancellation } from './cancellation.js';
import { UpstreamHttpError, type StreamableHttpTransport } from './http-transport.js';

export const MODERN_PROTOCOL_VERSION = '2026-07-28';
const PROTOCOL_VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';
const CLIENT_CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';
const CLIENT_INFO_KEY = 'io.modelcontextprotocol/clientInfo';
const LOG_LEVEL_KEY = 'io.modelcontextprotocol/logLevel';
/** Methods of the 2025 revisions that 2026-07-28 dropped; a 2025-era client's session keeps them by other means. */
export const LEGACY_ONLY_METHODS = new Set(['logging/setLevel', 'resources/subscribe', 'resources/unsubscribe', 'ping']);
/** Methods whose name or URI the Mcp-Name header mirrors, and the params field it comes from. */
const NAME_SOURCE: Record<string, string> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };
/** The input an upstream may ask for in one call before we give up on it (as the SDK clients cap it). */
const MAX_INPUT_ROUNDS = 10;

/** The client's answers to an upstream's `inputRequests`, by the same keys (a key left out was not answered). */
export type InputFulfiller = (requests: Record<string, { method: string; params?: Record<string, unknown> }>) => Promise<Record<string, unknown>>;

export interface ModernRequestOptions {
  timeout: number;
  cancellation?: Cancellation;
  /** Notifications the upstream sends while answering (progress, logs). */
  onNotification?: (notification: { method: string; params?: Record<string, unknown> }) => void;
  /**
   * Answers `input_required` results on the caller's behalf (a 2025-era client, asked with real requests), then
   * retries with its answers. Without it the result goes back as it came (a 2026-07-28 client answers itself).
   */
  fulfil?: InputFulfiller;
}

/** What `server/discover` told us. */
export interface Discovery {
  supportedVersions: string[];
  capabilities: Record<string, unknown>;
  serverInfo: Record<string, unknown> | undefined;
}

export class ModernClient {
  private seq = 0;
  /** A 2025-era client's log level (logging/setLevel), sent with each of its requests. */
  private logLevel: string | undefined;
  /** A 2025-era client's subscribed resources, and the listen stream that watches them. */
  private readonly subscribed = new Set<string>();
  private stopSubscriptions: (() => void) | undefined;

  constructor(
    readonly transport: StreamableHttpTransport,
    private readonly clientInfo: { name: string; version: string },
    /** What this client declares it can answer (the caller's; a session slot's set). */
    private readonly capabilities: ClientCapabilities,
    private discovery: Discovery | undefined = undefined,
    /** The upstream's client that owns the connection (the others share it and leave closing it to that one). */
    private readonly owner = true,
  ) {}

  /**
   * Asks the upstream which revisions it speaks. Resolves undefined when it does not speak 2026-07-28 (an HTTP
   * or JSON-RPC error is a 2025-era server's answer to a request without a session); a network failure throws.
   */
  async discover(timeout: number): Promise<Discovery | undefined> {
    let result: Record<string, unknown>;
    try {
      result = await this.exchange('server/discover', {}, { timeout });
    } catch (error) {
      if (error instanceof UpstreamHttpError || error instanceof McpError) return undefined;
      throw error;
    }
    const versions = Array.isArray(result.supportedVersions) ? result.supportedVersions.filter((v): v is string => typeof v === 'string') : [];
    if (!versions.includes(MODERN_PROTOCOL_VERSION)) return undefined;
    const meta = result._meta as Record<string, unknown> | undefined;
    const info = (result.serverInfo ?? meta?.['io.modelcontextprotocol/serverInfo']) as Record<string, unknown> | undefined;
    this.discovery = { supportedVersions: versions, capabilities: (result.capabilities ?? {}) as Record<string, unknown>, serverInfo: info };
    return this.discovery;
  }

  /** The same upstream, declaring other capabilities (what it learned by discovery is shared). */
  withCapabilities(capabilities: ClientCapabilities): ModernClient {
    return new ModernClient(this.transport, this.clientInfo, capabilities, this.discovery, false);
  }

  /** Whether the upstream also speaks a 2025 revision (then a 2025-era client's own session uses one). */
  get speaksLegacy(): boolean {
    return (this.discovery?.supportedVersions ?? []).some((v) => v !== MODERN_PROTOCOL_VERSION);
  }

  /**
   * What a 2025-era client's session asks that 2026-07-28 dropped, done the 2026 way for this client alone: its
   * log level goes in the `_meta` of its later requests, its resource subscriptions become a listen stream whose
   * updates go to `onNotification`, and ping is answered here.
   */
  async emulate(method: string, params: Record<string, unknown>, onNotification: (notification: { method: string; params?: Record<string, unknown> }) => void): Promise<Record<string, unknown>> {
    if (method === 'logging/setLevel') this.logLevel = typeof params.level === 'string' ? params.level : undefined;
    if (method === 'resources/subscribe' || method === 'resources/unsubscribe') {
      if (typeof params.uri !== 'string') throw new McpError(ErrorCode.InvalidParams, 'params.uri must be a string');
      if (method === 'resources/subscribe') this.subscribed.add(params.uri);
      else this.subscribed.delete(params.uri);
      this.stopSubscriptions?.();
      this.stopSubscriptions = this.subscribed.size ? this.listen({ resourceSubscriptions: [...this.subscribed] }, onNotification) : undefined;
    }
    return {};
  }

  getServerCapabilities(): Record<string, unknown> | undefined {
    return this.discovery?.capabilities;
  }

  getServerVersion(): Record<string, unknown> | undefined {
    return this.discovery?.serverInfo;
  }

  /** One request; an `input_required` result is fulfilled and retried when `fulfil` is given. */
  async request(req: { method: string; params?: Record<string, unknown> }, _schema: unknown, options: ModernRequestOptions): Promise<Record<string, unknown>> {
    let params = req.params ?? {};
    for (let round = 0; ; round++) {
      const result = await this.exchange(req.method, params, options);
      if (result.resultType !== 'input_required' || !options.fulfil) return result;
      if (round >= MAX_INPUT_ROUNDS) throw new McpError(ErrorCode.InternalError, `${req.method}: the upstream still asked for input after ${MAX_INPUT_ROUNDS} rounds`);
      const requests = (result.inputRequests ?? {}) as Record<string, { method: string; params?: Record<string, unknown> }>;
      const inputResponses = Object.keys(requests).length ? await options.fulfil(requests) : undefined;
      const { inputResponses: _previous, requestState: _state, ...original } = params;
      params = { ...original, ...(inputResponses ? { inputResponses } : {}), ...(typeof result.requestState === 'string' ? { requestState: result.requestState } : {}) };
    }
  }

  /**
   * Keeps a `subscriptions/listen` open on the upstream (opened again `retryMs` after it ends or fails) and hands
   * over what it delivers, the acknowledgement aside. Returns the function that stops it.
   */
  listen(notifications: Record<string, unknown>, onNotification: (notification: { method: string; params?: Record<string, unknown> }) => void, retryMs = 2_000): () => void {
    let stopped = false;
    let current: string | undefined;
    const open = async () => {
      while (!stopped) {
        const id = (current = `l${++this.seq}`);
        const params = { notifications, _meta: this.envelope() };
        try {
          await this.transport.exchange({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params }, this.headers('subscriptions/listen', params), (message) => {
            if ('method' in message && !('id' in message) && message.method !== 'notifications/subscriptions/acknowledged') {
              onNotification(message as { method: string; params?: Record<string, unknown> });
            }
          });
        } catch (error) {
          if ((error as Error).message === 'Not connected') return; // the transport was closed
        }
        if (!stopped) await new Promise((resolve) => setTimeout(resolve, retryMs).unref());
      }
    };
    void open();
    return () => {
      stopped = true;
      if (current) this.transport.abort(current);
    };
  }

  /** A 2026-07-28 client sends no notifications outside requests; nothing to do. */
  async notification(): Promise<void> {}

  async close(): Promise<void> {
    this.stopSubscriptions?.();
    if (this.owner) await this.transport.close();
  }

  /** What every request says of its client (the 2026-07-28 replacement of initialize). */
  private envelope(): Record<string, unknown> {
    return {
      [PROTOCOL_VERSION_KEY]: MODERN_PROTOCOL_VERSION,
      [CLIENT_CAPABILITIES_KEY]: this.capabilities,
      [CLIENT_INFO_KEY]: this.clientInfo,
      ...(this.logLevel ? { [LOG_LEVEL_KEY]: this.logLevel } : {}),
    };
  }

  /** The headers mirroring a request's version, method and name. */
  private headers(method: string, params: Record<string, unknown>): Record<string, string> {
    const headers: Record<string, string> = { 'mcp-protocol-version': MODERN_PROTOCOL_VERSION, 'mcp-method': method };
    const field = NAME_SOURCE[method];
    if (field && typeof params[field] === 'string') headers['mcp-name'] = headerValue(params[field]);
    return headers;
  }

  private async exchange(method: string, params: Record<string, unknown>, options: ModernRequestOptions): Promise<Record<string, unknown>> {
    const id = `m${++this.seq}`;
    const message = { jsonrpc: '2.0' as const, id, method, params: { ...params, _meta: { ...(params._meta as Record<string, unknown> | undefined), ...this.envelope() } } };
    const headers = this.headers(method, params);
    let answer: JSONRPCMessage | undefined;
    const onAbort = () => this.transport.abort(id);
    const timer = setTimeout(onAbort, options.timeout);
    const stopListening = options.cancellation?.onAbort(onAbort);
    try {
      await this.transport.exchange(message, headers, (incoming) => {
        if ('id' in incoming && incoming.id === id && ('result' in incoming || 'error' in incoming)) answer = incoming;
        else if ('method' in incoming && !('id' in incoming)) options.onNotification?.(incoming as { method: string; params?: Record<string, unknown> });
      });
    } catch (error) {
      if (options.cancellation?.aborted) throw new McpError(ErrorCode.RequestTimeout, `${method} was cancelled`);
      if ((error as Error).message === 'request cancelled') throw new McpError(ErrorCode.RequestTimeout, `Request timed out after ${options.timeout} ms`);
      throw error;
    } finally {
      clearTimeout(timer);
      stopListening?.();
    }
    if (!answer) throw new McpError(ErrorCode.InternalError, `the upstream ended its answer to ${method} without a result`);
    if ('error' in answer) throw new McpError(answer.error.code, answer.error.message, answer.error.data);
    return (answer as { result: Record<string, unknown> }).result;
  }
}

/** Header values that are not printable ASCII travel as `=?base64?{utf-8 as base64}?=`. */
function headerValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) && value.trim() === value ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}
