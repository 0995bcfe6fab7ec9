import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Bus } from '#libs/bus';
import {
  AUTHORIZE_TOOL_NAME,
  DomainError,
  GetUpstreamToken,
  ServersChanged,
  UpstreamCredentialChanged,
  type ClientContext,
  type McpServerRuntime,
  type UpstreamUser,
} from '#libs/contracts';
import { UpstreamUrlGuard } from '#libs/net-guard';
import { refreshAheadMs, UpstreamOAuthClient, type TokenSet } from '#libs/upstream-oauth';

/** The longest a token lookup at the registry may take, whatever the caller's budget. */
const TOKEN_LOOKUP_TIMEOUT_MS = 25_000;
/** JSON-RPC error of MCP 2025-11-25: the request needs the user to complete a URL elicitation first. */
export const URL_ELICITATION_REQUIRED = -32042;

/**
 * Who a request to an upstream is for: a user (forwarded client requests), nobody known (a request that named no
 * user: a per-user server challenges it), or the catalog (the gateway's own lists: a per-user server is listed
 * with the token of the user who authorized it last).
 */
export const FOR_CATALOG = Symbol('catalog');
export type UpstreamCaller = UpstreamUser | typeof FOR_CATALOG | undefined;

/** What a request to an upstream carries for its OAuth, and on whose behalf its session is. */
export interface UpstreamAuthorization {
  /** Headers to send (Authorization); none for a server without OAuth. */
  headers?: Record<string, string>;
  /** The same for every caller (a machine token): the server's own sessions and notification stream may carry it. */
  shared?: boolean;
  /** The user whose token this is: their requests get upstream sessions of their own (never shared with another user). */
  user?: string;
}

/**
 * The user lacks a credential for a per-user server (or has not approved this client): the server's challenge,
 * with the consent page's link when there is someone to send it to.
 */
export class UpstreamAuthorizationRequired extends DomainError {
  constructor(
    readonly serverName: string,
    readonly consentUrl: string | undefined,
    readonly reason: string,
    message = authorizationMessage(serverName, consentUrl),
  ) {
    super('PERMISSION_DENIED', message, { server: serverName, reason, ...(consentUrl ? { authorization_url: consentUrl } : {}) });
  }
}

/** Exchanged tokens kept per replica (the oldest dropped first beyond it). */
const MAX_EXCHANGED_TOKENS = 10_000;

interface CachedToken {
  accessToken: string;
  tokenType: string;
  /** When to stop using it (ms): ahead of its expiry (see refreshAt). */
  refreshAt: number;
  user: string;
}

/**
 * Upstream OAuth in the connector. Machine tokens (`oauth2_flow: client_credentials`) are fetched here, cached
 * per server definition and fetched again ahead of expiry (one request per replica however many calls wait).
 * Per-user tokens (`authorization_code`) come from the registry's vault (GetUpstreamToken, which refreshes them
 * once across replicas) and are cached here per server, user and client until shortly before they expire; a
 * UpstreamCredentialChanged event drops them. The caller's own credentials to the gateway are never used.
 */
@Injectable()
export class UpstreamAuth implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(UpstreamAuth.name);
  private readonly machine = new Map<string, { revision: string; token?: CachedToken; pending?: Promise<CachedToken> }>();
  private readonly users = new Map<string, CachedToken>();
  /** RFC 8693 results per server and subject token (its hash), until shortly before they expire. */
  private readonly exchanged = new Map<string, CachedToken>();
  private readonly exchanges = new Map<string, Promise<CachedToken>>();
  private readonly lookups = new Map<string, Promise<CachedToken>>();
  private readonly clients = new Map<string, { revision: string; client: UpstreamOAuthClient }>();
  private readonly stops: (() => void)[] = [];

  constructor(@Inject(Bus) private readonly bus: Bus) {}

  onModuleInit(): void {
    this.stops.push(
      this.bus.subscribe(UpstreamCredentialChanged, ({ server_id, user_id }) => this.forgetUser(server_id, user_id)),
      this.bus.subscribe(ServersChanged, ({ server_id }) => this.forgetServer(server_id)),
    );
  }

  onModuleDestroy(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  /** Whether a server's requests carry a per-user credential (then sessions are per user). */
  static perUser(server: McpServerRuntime): boolean {
    return server.auth_type === 'oauth2' && server.oauth2_flow === 'authorization_code';
  }

  /**
   * The Authorization a request to `server` carries for `caller` (see UpstreamCaller). Throws
   * UpstreamAuthorizationRequired when the user has to authorize first.
   */
  async authorize(server: McpServerRuntime, caller: UpstreamCaller, deadline: number): Promise<UpstreamAuthorization> {
    if (server.auth_type === 'oauth2' && server.oauth2_flow === 'client_credentials') {
      const token = await this.machineToken(server);
      return { headers: { authorization: authorizationHeader(token) }, shared: true };
    }
    if (UpstreamAuth.perUser(server)) {
      // an unsaved definition being tested has no vault entries; a request that names no user has no grant
      if (server.server_id.startsWith('probe-') || caller === undefined) throw new UpstreamAuthorizationRequired(server.server_name, undefined, 'no_credential');
      const token = await this.userToken(server, caller === FOR_CATALOG ? undefined : caller, deadline);
      return { headers: { authorization: authorizationHeader(token) }, user: token.user };
    }
    if (server.auth_type === 'oauth2_token_exchange') {
      if (caller === FOR_CATALOG) {
        // the gateway's own lists: its client_credentials token (no caller's token to exchange)
        const token = await this.machineToken(server).catch((error: unknown) => {
          this.log.warn(`${server.server_name}: no client_credentials token to list its tools with (${(error as Error).message})`);
          throw new UpstreamAuthorizationRequired(server.server_name, undefined, 'no_subject_token', tokenExchangeMessage(server.server_name));
        });
        return { headers: { authorization: authorizationHeader(token) }, shared: true };
      }
      if (!caller?.subject_token) throw new UpstreamAuthorizationRequired(server.server_name, undefined, 'no_subject_token', tokenExchangeMessage(server.server_name));
      const token = await this.exchangedToken(server, caller.subject_token);
      return { headers: { authorization: authorizationHeader(token) }, user: caller.user_id };
    }
    return {};
  }

  /**
   * The upstream refused the token it was sent (HTTP 401: revoked, or expired by its clock): another one for the
   * same caller, fetched or refreshed now rather than when the old one would have run out.
   */
  async renew(server: McpServerRuntime, caller: UpstreamCaller, refused: UpstreamAuthorization, deadline: number): Promise<UpstreamAuthorization> {
    const token = refused.headers?.authorization?.replace(/^\S+\s+/, '') ?? '';
    if (refused.shared) {
      const entry = this.machine.get(server.server_id);
      if (entry?.token?.accessToken === token) entry.token = undefined;
    }
    for (const [key, cached] of this.exchanged) if (cached.accessToken === token) this.exchanged.delete(key);
    if (UpstreamAuth.perUser(server) && caller !== undefined) {
      for (const [key, cached] of this.users) if (cached.accessToken === token) this.users.delete(key);
      const user = caller === FOR_CATALOG ? undefined : caller;
      const key = userKey(server.server_id, user);
      let lookup = this.lookups.get(key);
      if (!lookup) {
        lookup = this.lookUp(server, user, deadline, createHash('sha256').update(token).digest('hex')).finally(() => this.lookups.delete(key));
        this.lookups.set(key, lookup);
      }
      const renewed = await lookup;
      return { headers: { authorization: authorizationHeader(renewed) }, user: renewed.user };
    }
    return this.authorize(server, caller, deadline);
  }

  /** The server's machine token, fetched again ahead of expiry: one request per server at a time, concurrent callers share it. */
  private async machineToken(server: McpServerRuntime): Promise<CachedToken> {
    let entry = this.machine.get(server.server_id);
    if (!entry || entry.revision !== server.revision) {
      entry = { revision: server.revision };
      this.machine.set(server.server_id, entry);
    }
    if (entry.token && entry.token.refreshAt > Date.now()) return entry.token;
    let pending = entry.pending;
    if (!pending) {
      const current = entry;
      const started = Date.now();
      pending = current.pending = this.client(server)
        .clientCredentials()
        .then((tokens) => {
          this.log.log(`got a machine token for ${server.server_name}${tokens.expires_at ? ` (valid ${Math.round((tokens.expires_at - started) / 1000)} s)` : ''}`);
          return (current.token = cachedToken(tokens, started, 'machine'));
        })
        .finally(() => (current.pending = undefined));
    }
    return pending;
  }

  /** The caller's token exchanged for one of this server (RFC 8693), once per subject token while it lasts. */
  private async exchangedToken(server: McpServerRuntime, subjectToken: string): Promise<CachedToken> {
    const key = `${server.server_id}\u0000${server.revision}\u0000${createHash('sha256').update(subjectToken).digest('hex')}`;
    const cached = this.exchanged.get(key);
    if (cached && cached.refreshAt > Date.now()) return cached;
    let exchange = this.exchanges.get(key);
    if (!exchange) {
      const started = Date.now();
      exchange = this.client(server)
        .tokenExchange(subjectToken)
        .then((tokens) => {
          const token = cachedToken(tokens, started, 'exchanged');
          this.exchanged.delete(key);
          if (this.exchanged.size >= MAX_EXCHANGED_TOKENS) this.exchanged.delete(this.exchanged.keys().next().value!);
          this.exchanged.set(key, token);
          return token;
        })
        .catch((error: unknown) => {
          // the authorization server refused this caller's token: the caller's to fix (sign in again), not the server's
          if (DomainError.is(error, 'PERMISSION_DENIED')) throw new UpstreamAuthorizationRequired(server.server_name, undefined, 'exchange_refused', `${tokenExchangeMessage(server.server_name)} (${error.message})`);
          throw error;
        })
        .finally(() => this.exchanges.delete(key));
      this.exchanges.set(key, exchange);
    }
    return exchange;
  }

  private async userToken(server: McpServerRuntime, user: UpstreamUser | undefined, deadline: number): Promise<CachedToken> {
    const key = userKey(server.server_id, user);
    const cached = this.users.get(key);
    if (cached && cached.refreshAt > Date.now()) return cached;
    let lookup = this.lookups.get(key);
    if (!lookup) {
      lookup = this.lookUp(server, user, deadline).finally(() => this.lookups.delete(key));
      this.lookups.set(key, lookup);
    }
    return lookup;
  }

  private async lookUp(server: McpServerRuntime, user: UpstreamUser | undefined, deadline: number, rejected?: string): Promise<CachedToken> {
    const timeoutMs = Math.max(1, Math.min(TOKEN_LOOKUP_TIMEOUT_MS, deadline - Date.now()));
    const started = Date.now();
    const reply = await this.bus.call(
      GetUpstreamToken,
      {
        server_id: server.server_id,
        ...(user ? { user: { user_id: user.user_id, client_id: user.client_id, ...(user.client_name ? { client_name: user.client_name } : {}) } } : {}),
        ...(rejected ? { rejected_token: rejected } : {}),
      },
      { timeoutMs },
    );
    if (reply.status === 'authorization_required') {
      throw new UpstreamAuthorizationRequired(server.server_name, reply.ticket ? consentUrl(server.server_name, reply.ticket, user?.gateway_url) : undefined, reply.reason);
    }
    const expiresAt = reply.expires_at ? Date.parse(reply.expires_at) : null;
    const token = cachedToken({ access_token: reply.access_token, token_type: reply.token_type, expires_at: expiresAt }, started, reply.user_id);
    this.users.set(userKey(server.server_id, user), token);
    return token;
  }

  private forgetUser(serverId: string, userId: string): void {
    for (const [key, token] of this.users) if (key.startsWith(`${serverId}\u0000`) && token.user === userId) this.users.delete(key);
  }

  private forgetServer(serverId: string): void {
    this.machine.delete(serverId);
    this.clients.delete(serverId);
    for (const key of this.exchanged.keys()) if (key.startsWith(`${serverId}\u0000`)) this.exchanged.delete(key);
    for (const key of this.users.keys()) if (key.startsWith(`${serverId}\u0000`)) this.users.delete(key);
  }

  private client(server: McpServerRuntime): UpstreamOAuthClient {
    const cached = this.clients.get(server.server_id);
    if (cached?.revision === server.revision) return cached.client;
    const guard = new UpstreamUrlGuard(server.ip_ranges);
    const client = new UpstreamOAuthClient({ ...server, url: server.url }, { checkUrl: (url) => guard.check(url) });
    this.clients.set(server.server_id, { revision: server.revision, client });
    return client;
  }
}

/** Used until shortly before it expires (refreshAheadMs): then fetched again. */
function cachedToken(tokens: Pick<TokenSet, 'access_token' | 'token_type' | 'expires_at'>, obtainedAt: number, user: string): CachedToken {
  const refreshAt = tokens.expires_at === null ? Infinity : tokens.expires_at - refreshAheadMs(tokens.expires_at - obtainedAt);
  return { accessToken: tokens.access_token, tokenType: tokens.token_type, refreshAt, user };
}

function authorizationHeader(token: CachedToken): string {
  // RFC 6750: the scheme is Bearer whatever case the authorization server wrote its token_type in
  return `${/^bearer$/i.test(token.tokenType) ? 'Bearer' : token.tokenType} ${token.accessToken}`;
}

function userKey(serverId: string, user: UpstreamUser | undefined): string {
  return user ? `${serverId}\u0000${user.user_id}\u0000${user.client_id}` : `${serverId}\u0000*`;
}

/** The consent page of the gateway for one ticket; absolute when the edge said how the client reached it. */
export function consentUrl(serverName: string, ticket: string, gatewayUrl: string | undefined): string {
  const path = `/v1/mcp/oauth/${encodeURIComponent(serverName)}/authorize?ticket=${encodeURIComponent(ticket)}`;
  return gatewayUrl ? `${gatewayUrl.replace(/\/+$/, '')}${path}` : path;
}

function tokenExchangeMessage(serverName: string): string {
  return `MCP server "${serverName}" is reached with your own OAuth identity: sign in to the gateway with OAuth (its access token is exchanged for one of ${serverName}; an API key cannot be).`;
}

function authorizationMessage(serverName: string, url: string | undefined): string {
  return url
    ? `MCP server "${serverName}" needs your authorization: open ${url} to connect your account, then try again.`
    : `MCP server "${serverName}" needs a user's authorization: no user has connected an account yet.`;
}

/** The client declared URL-mode elicitation (MCP 2025-11-25): it can take the challenge as error -32042. */
export function acceptsUrlElicitation(client: ClientContext | undefined): boolean {
  const elicitation = client?.capabilities?.elicitation;
  return typeof elicitation === 'object' && elicitation !== null && 'url' in elicitation;
}

/**
 * How a request meets the challenge: a client that takes URL elicitations gets JSON-RPC -32042 with the consent
 * link as a URL elicitation; otherwise a tools/call gets a tool error naming the link (the model or the user can act
 * on it) and any other request a JSON-RPC error carrying it.
 */
export function challengeFor(
  error: UpstreamAuthorizationRequired,
  method: string,
  client: ClientContext | undefined,
): { result: Record<string, unknown> } | DomainError {
  const url = error.consentUrl;
  if (url && /^https?:\/\//.test(url) && acceptsUrlElicitation(client)) {
    const elicitationId = `sb-oauth-${createHash('sha256').update(url).digest('hex').slice(0, 24)}`;
    return new DomainError('PERMISSION_DENIED', error.message, {
      jsonrpc_code: URL_ELICITATION_REQUIRED,
      data: { elicitations: [{ mode: 'url', elicitationId, url, message: `Connect your account to ${error.serverName}` }] },
    });
  }
  if (method === 'tools/call') {
    return {
      result: {
        content: [{ type: 'text', text: error.message }],
        isError: true,
        _meta: { 'switchboard/authorization': { server: error.serverName, reason: error.reason, ...(url ? { url } : {}) } },
      },
    };
  }
  return new DomainError('PERMISSION_DENIED', error.message, {
    jsonrpc_code: -32001,
    data: { server: error.serverName, reason: error.reason, ...(url ? { authorization_url: url } : {}) },
  });
}

/**
 * What a per-user server lists before any user has authorized it: one tool that says so (calling it brings the
 * caller its consent link), so that its tools never silently vanish from a list.
 */
export function authorizationPlaceholder(server: McpServerRuntime) {
  return {
    tools: [
      {
        name: AUTHORIZE_TOOL_NAME,
        description:
          `Connect your account to ${server.server_name}: its tools are listed once someone has authorized it. ` +
          'Call this tool to get your authorization link.',
        inputSchema: { type: 'object' as const, properties: {} },
        annotations: { title: `Authorize ${server.server_name}`, readOnlyHint: true, openWorldHint: false },
      },
    ],
    server_info: null,
    protocol_version: null,
    capabilities: { tools: {} },
    prompts: [],
    resources: [],
    resource_templates: [],
    capability_tools: {},
  };
}
