/**
 * MCP revision 2026-07-28 ("modern"): no session and no initialize; every request names its protocol version,
 * client capabilities and client info in `params._meta`, and the Streamable HTTP POST mirrors the version, the
 * method and the name in headers. The edge decides per request which era a client speaks (body first, the
 * header as a cross-check), and rejects a modern request before any work with the errors the revision names.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Json } from './json-text.js';
import { JsonRpcErrorCode, type JsonRpcRequest } from './jsonrpc.js';
import { LEGACY_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS } from './protocol.js';

export const PROTOCOL_VERSION_META_KEY = 'io.modelcontextprotocol/protocolVersion';
export const CLIENT_CAPABILITIES_META_KEY = 'io.modelcontextprotocol/clientCapabilities';
export const CLIENT_INFO_META_KEY = 'io.modelcontextprotocol/clientInfo';
export const SERVER_INFO_META_KEY = 'io.modelcontextprotocol/serverInfo';

export const ModernErrorCode = {
  /** A header mirrored from the body is missing, malformed or disagrees with it. */
  HEADER_MISMATCH: -32020,
  MISSING_REQUIRED_CLIENT_CAPABILITY: -32021,
  /** The request names a revision this server does not speak; data.supported lists those it does. */
  UNSUPPORTED_PROTOCOL_VERSION: -32022,
} as const;

/** Every revision served, newest first: what `server/discover` and -32022 name. */
export const ALL_PROTOCOL_VERSIONS: readonly string[] = [...MODERN_PROTOCOL_VERSIONS, ...LEGACY_PROTOCOL_VERSIONS];

/** Methods that carry a name or URI the `Mcp-Name` header mirrors, and which params field it is. */
const NAME_SOURCE: Record<string, string> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

/** Methods that exist in 2026-07-28 (ping, logging/setLevel, resources/subscribe and initialize do not). */
export const MODERN_METHODS = new Set([
  'server/discover',
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'completion/complete',
]);

/** Results the revision makes cacheable: they carry `ttlMs` and `cacheScope`. */
export const CACHEABLE_METHODS = new Set(['server/discover', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read']);

/** A modern request rejected before dispatch: answered with this HTTP status and JSON-RPC error. */
export class ModernRejection extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** What a modern request says about its client (the per-request replacement of initialize). */
export interface ModernEnvelope {
  protocolVersion: string;
  clientCapabilities: Record<string, unknown>;
  clientInfo: Record<string, unknown> | null;
}

/** The envelope's version claim, when the body makes one (what decides the era). */
export function envelopeVersion(message: unknown): unknown {
  if (!message || typeof message !== 'object' || Array.isArray(message)) return undefined;
  const params = (message as { params?: unknown }).params;
  if (!params || typeof params !== 'object') return undefined;
  const meta = (params as { _meta?: unknown })._meta;
  if (!meta || typeof meta !== 'object') return undefined;
  return (meta as Record<string, unknown>)[PROTOCOL_VERSION_META_KEY];
}

/**
 * Whether this POST body is modern traffic: a single message whose `_meta` claims a protocol version, or one
 * whose MCP-Protocol-Version header names a modern revision (then a missing envelope is an error, never a fall
 * back to the session path), or `server/discover`.
 */
export function isModernTraffic(body: unknown, headers: IncomingHttpHeaders): boolean {
  if (Array.isArray(body)) return body.some((m) => envelopeVersion(m) !== undefined);
  if (envelopeVersion(body) !== undefined) return true;
  const header = headers['mcp-protocol-version'];
  if (typeof header === 'string' && MODERN_PROTOCOL_VERSIONS.includes(header)) return true;
  return (body as { method?: unknown } | null)?.method === 'server/discover';
}

/**
 * The edge rungs of the revision's validation ladder, in its order: the body claims a version (-32602), the
 * MCP-Protocol-Version header names one we speak (-32022; an unsupported header wins over a mismatch) and equals
 * the body's, the body's is one of ours (-32022), the Mcp-Method / Mcp-Name headers mirror the body (-32020),
 * the envelope is well formed (-32602). Returns the envelope, lifted out of the request's `_meta` (liftEnvelope).
 */
export function admitModernRequest(request: JsonRpcRequest, headers: IncomingHttpHeaders): ModernEnvelope {
  const meta = request.params?._meta as Record<string, unknown> | undefined;
  const claimed = meta?.[PROTOCOL_VERSION_META_KEY];
  const header = headers['mcp-protocol-version'];
  if (claimed === undefined) {
    throw new ModernRejection(400, JsonRpcErrorCode.INVALID_PARAMS, `Invalid params: _meta["${PROTOCOL_VERSION_META_KEY}"] is required`, {
      missing: [PROTOCOL_VERSION_META_KEY],
    });
  }
  // an unsupported header wins over a mismatch: a header naming a revision we speak must then equal the body's
  if (header !== undefined && (typeof header !== 'string' || !ALL_PROTOCOL_VERSIONS.includes(header))) throw unsupported(header);
  if (header !== undefined && header !== claimed) throw mismatch(`MCP-Protocol-Version header ${String(header)} does not match the body's ${String(claimed)}`);
  if (typeof claimed !== 'string' || !MODERN_PROTOCOL_VERSIONS.includes(claimed)) throw unsupported(claimed);
  if (header === undefined) throw mismatch('the MCP-Protocol-Version header is required');
  const method = headers['mcp-method'];
  if (method === undefined) throw mismatch('the Mcp-Method header is required');
  if (method !== request.method) throw mismatch(`Mcp-Method header ${String(method)} does not match the body's ${request.method}`);
  const field = NAME_SOURCE[request.method];
  if (field) {
    const value = request.params?.[field];
    const name = headers['mcp-name'];
    if (typeof value === 'string') {
      if (name === undefined) throw mismatch('the Mcp-Name header is required');
      if (typeof name !== 'string' || decodeHeaderValue(name) !== value) throw mismatch(`Mcp-Name header does not match params.${field}`);
    }
  }
  const capabilities = meta![CLIENT_CAPABILITIES_META_KEY];
  if (!capabilities || typeof capabilities !== 'object' || Array.isArray(capabilities)) {
    throw new ModernRejection(400, JsonRpcErrorCode.INVALID_PARAMS, `Invalid params: _meta["${CLIENT_CAPABILITIES_META_KEY}"] must be an object`, {
      missing: [CLIENT_CAPABILITIES_META_KEY],
    });
  }
  const info = meta![CLIENT_INFO_META_KEY];
  liftEnvelope(request);
  return {
    protocolVersion: claimed,
    clientCapabilities: capabilities as Record<string, unknown>,
    clientInfo: info && typeof info === 'object' ? (info as Record<string, unknown>) : null,
  };
}

/** The envelope's keys: they describe the client to the gateway; an upstream is told about the gateway instead. */
const ENVELOPE_KEYS = [PROTOCOL_VERSION_META_KEY, CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY];

/**
 * Takes the envelope out of the request's `_meta` once it is read, so that what is forwarded upstream is the
 * request alone: a 2025-era upstream session must not see a 2026-07-28 claim (a dual-era upstream would take
 * the message for a modern one and refuse it on a session), and a modern upstream gets the connector's own
 * envelope. The rest of `_meta` (progressToken, logLevel, tracing) stays.
 */
function liftEnvelope(request: JsonRpcRequest): void {
  const meta = request.params?._meta as Record<string, unknown> | undefined;
  if (!meta) return;
  const rest = Object.fromEntries(Object.entries(meta).filter(([key]) => !ENVELOPE_KEYS.includes(key)));
  if (Object.keys(rest).length) request.params!._meta = rest;
  else delete request.params!._meta;
}

function unsupported(requested: unknown): ModernRejection {
  return new ModernRejection(400, ModernErrorCode.UNSUPPORTED_PROTOCOL_VERSION, `Unsupported protocol version: ${String(requested)}`, {
    supported: [...MODERN_PROTOCOL_VERSIONS],
    requested,
  });
}

function mismatch(message: string): ModernRejection {
  return new ModernRejection(400, ModernErrorCode.HEADER_MISMATCH, `Header mismatch: ${message}`);
}

const BASE64_PREFIX = '=?base64?';
const BASE64_SUFFIX = '?=';
const BASE64_CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Header values that are not plain printable ASCII travel as `=?base64?{utf-8 as base64}?=`. A value carrying
 * that wrapper whose payload is not canonical Base64 of UTF-8 text is undefined (the revision says to refuse
 * it); a value without the whole wrapper is taken literally.
 */
export function decodeHeaderValue(value: string): string | undefined {
  if (!(value.startsWith(BASE64_PREFIX) && value.endsWith(BASE64_SUFFIX) && value.length >= BASE64_PREFIX.length + BASE64_SUFFIX.length)) return value;
  const payload = value.slice(BASE64_PREFIX.length, value.length - BASE64_SUFFIX.length);
  if (!BASE64_CANONICAL.test(payload)) return undefined;
  try {
    return UTF8.decode(Buffer.from(payload, 'base64'));
  } catch {
    return undefined;
  }
}

/** A tool argument the client mirrors into a header (`x-mcp-header` in the tool's inputSchema, SEP-2243). */
export interface ParamHeader {
  /** Where the argument is, through `properties` only. */
  path: string[];
  /** The header's name, lower case: `mcp-param-{x-mcp-header}`. */
  header: string;
  type: unknown;
}

/** The `x-mcp-header` declarations of a tool's inputSchema (on properties reached through `properties` alone). */
export function paramHeaders(inputSchema: unknown, path: string[] = []): ParamHeader[] {
  const properties = (inputSchema as { properties?: unknown } | null)?.properties;
  if (!properties || typeof properties !== 'object') return [];
  const out: ParamHeader[] = [];
  for (const [name, schema] of Object.entries(properties as Record<string, unknown>)) {
    if (!schema || typeof schema !== 'object') continue;
    const declared = (schema as Record<string, unknown>)['x-mcp-header'];
    if (typeof declared === 'string' && declared) out.push({ path: [...path, name], header: `mcp-param-${declared.toLowerCase()}`, type: (schema as { type?: unknown }).type });
    out.push(...paramHeaders(schema, [...path, name]));
  }
  return out;
}

const DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * The Mcp-Param-* headers a tools/call with these arguments carries to an upstream of 2026-07-28 (the gateway
 * makes them from the tool's schema, so a 2025-era client's call carries them too).
 */
export function paramHeaderValues(declared: readonly ParamHeader[], args: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { path, header } of declared) {
    let value: unknown = args;
    for (const key of path) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    if (value === undefined || value === null || typeof value === 'object') continue;
    out[header] = encodeHeaderValue(String(value));
  }
  return out;
}

/** Printable ASCII without surrounding spaces goes as it is; anything else as `=?base64?…?=`. */
export function encodeHeaderValue(value: string): string {
  return /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value) ? value : `${BASE64_PREFIX}${Buffer.from(value, 'utf8').toString('base64')}${BASE64_SUFFIX}`;
}

/**
 * The 2026-07-28 check of a tools/call's custom headers against its body (SEP-2243; `declared`: the tool's
 * `paramHeaders`): every argument the tool
 * mirrors into a header, when the body carries it (not null), must arrive with that header, decoding to the
 * same value (numbers compared as numbers). Throws -32020 (HTTP 400) naming the header.
 */
export function assertParamHeaders(declared: readonly ParamHeader[], args: Record<string, unknown> | undefined, headers: IncomingHttpHeaders): void {
  for (const { path, header, type } of declared) {
    let value: unknown = args;
    for (const key of path) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    if (value === undefined || value === null || typeof value === 'object') continue;
    const sent = headers[header];
    if (typeof sent !== 'string') throw mismatch(`the ${header} header is required: arguments.${path.join('.')} is set`);
    const decoded = decodeHeaderValue(sent.trim());
    if (decoded === undefined) throw mismatch(`the ${header} header is not valid =?base64?…?= text`);
    const numeric = (type === 'integer' || type === 'number') && typeof value === 'number' && DECIMAL.test(decoded);
    if (numeric ? Number(decoded) !== value : decoded !== String(value)) throw mismatch(`the ${header} header does not match arguments.${path.join('.')}`);
  }
}

/**
 * The HTTP status of a 2026-07-28 reply written once (JSON): an error is in-band (200) like any result, except
 * MissingRequiredClientCapabilityError (-32021), whose 400 the revision ties to the error itself, wherever it
 * arose (an upstream's refusal relayed by the gateway included). Reads the reply text as `errorJson` writes it.
 */
export function modernReplyStatus(replyJson: Json): number {
  // a reply around prepared bytes is a result: its head (`{"jsonrpc":"2.0","id":…,"result":`) says so
  const code = ERROR_REPLY.exec(typeof replyJson === 'string' ? replyJson : replyJson.head)?.[1];
  return code !== undefined && Number(code) === ModernErrorCode.MISSING_REQUIRED_CLIENT_CAPABILITY ? 400 : 200;
}
/** `{"jsonrpc":"2.0","id":…,"error":{"code":…`: an error reply as errorJson writes it (the code captured). */
const ERROR_REPLY = /^\{"jsonrpc":"2\.0","id":(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*"|null),"error":\{"code":(-?\d+)/;

/** Result fields a modern result carries before the method's own (which win where both set one). */
export interface ModernResultFields {
  serverInfo: Record<string, unknown>;
  cache?: { ttlMs: number; cacheScope: 'public' | 'private' };
}

/**
 * A prepared result (JSON text) as the revision shapes it: `resultType`, the cache hints of cacheable methods
 * and the server's identity in `_meta`. Spliced as text: prepared lists are never parsed again (prepared bytes
 * are not even turned into text: the members go in front of them). A result that already says what it is (an
 * upstream's `input_required`) keeps its own `resultType`.
 */
export function modernResultJson(resultText: string, fields: ModernResultFields): string;
export function modernResultJson(resultText: Json, fields: ModernResultFields): Json;
export function modernResultJson(resultText: Json, fields: ModernResultFields): Json {
  const head: Record<string, unknown> = { resultType: 'complete' };
  if (fields.cache) Object.assign(head, fields.cache);
  const prefix = JSON.stringify(head).slice(1, -1);
  const meta = `"_meta":${JSON.stringify({ [SERVER_INFO_META_KEY]: fields.serverInfo })}`;
  if (typeof resultText !== 'string') {
    // prepared bytes are compact JSON (JSON.stringify's): nothing to trim
    const spliced = resultText.withLeadingMembers(`${prefix},${meta}`);
    if (spliced) return spliced;
    resultText = resultText.toString();
  }
  const body = resultText.trim();
  const inner = body.slice(1, -1).trim();
  // a result with its own _meta keeps it (JSON's last duplicate wins); ours goes first
  return inner ? `{${prefix},${meta},${inner}}` : `{${prefix},${meta}}`;
}
