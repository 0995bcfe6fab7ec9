import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Bus } from '#libs/bus';
import { CacheKeys, KeyValueStore } from '#libs/cache';
import {
  DomainError,
  UpstreamCredentialChanged,
  type ApproveUpstreamConsent,
  type CompleteUpstreamAuthorization,
  type DescribeUpstreamConsent,
  type GetUpstreamToken,
  type ListUpstreamGrants,
  type ReplyOf,
  type RevokeUpstreamGrant,
  type UpstreamGrant,
  type RequestOf,
} from '#libs/contracts';
import { newCodeVerifier, newState, refreshAheadMs, UpstreamOAuthClient } from '#libs/upstream-oauth';
import { CatalogService } from '../catalog/catalog.service.js';
import { ServerRepository } from '../servers/server.repository.js';
import type { ServerRecord } from '../servers/server-definition.js';
import { UpstreamPolicy } from '../servers/upstream-policy.js';
import { CredentialVault, type StoredCredential } from './credential-vault.js';

/** How long a caller waits for another replica's refresh of the same token before giving up. */
const REFRESH_WAIT_MS = 20_000;
const REFRESH_POLL_MS = 50;

interface Ticket {
  server_id: string;
  server_name: string;
  user_id: string;
  client_id: string;
  client_name: string | null;
}

interface Flow {
  server_id: string;
  user_id: string;
  code_verifier: string;
  browser_binding: string;
  redirect_uri: string;
}

/**
 * Per-user OAuth toward upstreams (auth_type oauth2, oauth2_flow authorization_code): the vault's tokens handed
 * to connectors, refreshed once across every replica however many calls wait (a set-if-absent lock in the shared
 * store; the others poll the vault for the refreshed token), and the consent flow: a ticket names who asks for
 * which server through which client; the user approves that client on the gateway's page (recorded per client),
 * then the browser goes to the authorization server with PKCE and a state bound to that browser; the callback's
 * code is exchanged here and the tokens stored encrypted.
 */
@Injectable()
export class UpstreamOAuthService {
  private readonly log = new Logger(UpstreamOAuthService.name);
  private readonly clients = new Map<string, { revision: string; client: UpstreamOAuthClient }>();
  /** Refreshes in progress in this process, per server and user (the store's lock covers the other replicas). */
  private readonly refreshing = new Map<string, Promise<StoredCredential>>();

  constructor(
    @Inject(ServerRepository) private readonly servers: ServerRepository,
    @Inject(CredentialVault) private readonly vault: CredentialVault,
    @Inject(KeyValueStore) private readonly kv: KeyValueStore,
    @Inject(Bus) private readonly bus: Bus,
    @Inject(UpstreamPolicy) private readonly policy: UpstreamPolicy,
    @Inject(CatalogService) private readonly catalog: CatalogService,
  ) {}

  async token(request: RequestOf<typeof GetUpstreamToken>): Promise<ReplyOf<typeof GetUpstreamToken>> {
    const server = await this.perUserServer(request.server_id);
    const fingerprint = grantFingerprint(server);
    const user = request.user;
    let credential: StoredCredential | null;
    if (!user) {
      credential = await this.vault.latest(server.id, fingerprint);
      if (!credential) return { status: 'authorization_required', reason: 'no_credential' };
    } else {
      const [stored, approved] = await Promise.all([this.vault.get(server.id, user.user_id), this.vault.hasConsent(server.id, user.user_id, user.client_id)]);
      credential = stored?.grant_fingerprint === fingerprint ? stored : null;
      if (!credential || !approved) {
        return { status: 'authorization_required', reason: credential ? 'client_not_approved' : 'no_credential', ticket: await this.ticket(server, user) };
      }
    }
    try {
      const fresh = await this.fresh(server, credential, request.rejected_token);
      return {
        status: 'ok',
        access_token: fresh.access_token,
        token_type: fresh.token_type,
        expires_at: fresh.expires_at?.toISOString() ?? null,
        user_id: fresh.user_id,
      };
    } catch (error) {
      if (!(error instanceof RefreshFailed)) throw error;
      this.log.warn(`the upstream token of user ${credential.user_id} for ${server.server_name} could not be refreshed (${error.message}): the user must authorize again`);
      return { status: 'authorization_required', reason: 'refresh_failed', ...(user ? { ticket: await this.ticket(server, user) } : {}) };
    }
  }

  async describe(request: RequestOf<typeof DescribeUpstreamConsent>): Promise<ReplyOf<typeof DescribeUpstreamConsent>> {
    const ticket = await this.readTicket(await this.kv.get(CacheKeys.upstreamConsentTicket(request.ticket).key), request.server);
    const server = await this.perUserServer(ticket.server_id);
    const stored = await this.vault.get(server.id, ticket.user_id);
    return {
      server_name: server.server_name,
      server_description: server.description,
      user_id: ticket.user_id,
      client_id: ticket.client_id,
      client_name: ticket.client_name,
      scopes: server.scopes ?? [],
      authorization_origin: await this.client(server).authorizationOrigin(),
      has_credential: stored?.grant_fingerprint === grantFingerprint(server),
    };
  }

  /** The user approved: the ticket is used up, the consent recorded; then the authorization request, unless a credential exists. */
  async approve(request: RequestOf<typeof ApproveUpstreamConsent>): Promise<ReplyOf<typeof ApproveUpstreamConsent>> {
    const ticket = await this.readTicket(await this.kv.take(CacheKeys.upstreamConsentTicket(request.ticket).key), request.server);
    const server = await this.perUserServer(ticket.server_id);
    await this.vault.recordConsent(server.id, ticket.user_id, ticket.client_id, ticket.client_name);
    this.bus.publish(UpstreamCredentialChanged, { server_id: server.id, user_id: ticket.user_id, change: 'approved' });
    this.log.log(`user ${ticket.user_id} approved client ${ticket.client_name ?? ticket.client_id.slice(0, 8)} for ${server.server_name}`);
    const stored = await this.vault.get(server.id, ticket.user_id);
    if (stored?.grant_fingerprint === grantFingerprint(server)) return { kind: 'done', server_name: server.server_name };
    const state = newState();
    const codeVerifier = newCodeVerifier();
    const flow: Flow = { server_id: server.id, user_id: ticket.user_id, code_verifier: codeVerifier, browser_binding: request.browser_binding, redirect_uri: request.redirect_uri };
    const key = CacheKeys.upstreamAuthorizationFlow(state);
    await this.kv.set(key.key, JSON.stringify(flow), key.ttlSeconds);
    return { kind: 'redirect', url: await this.client(server).authorizationUrl({ redirectUri: request.redirect_uri, state, codeVerifier }) };
  }

  /** The browser is back from the authorization server: the flow is used up, the code exchanged, the tokens stored. */
  async complete(request: RequestOf<typeof CompleteUpstreamAuthorization>): Promise<ReplyOf<typeof CompleteUpstreamAuthorization>> {
    const callbackUrl = new URL(request.callback_url);
    const state = callbackUrl.searchParams.get('state');
    const raw = state ? await this.kv.take(CacheKeys.upstreamAuthorizationFlow(state).key) : null;
    if (!state || !raw) throw new DomainError('NOT_FOUND', 'this authorization has expired or was already completed: start again from the link the MCP client showed');
    const flow = JSON.parse(raw) as Flow;
    if (!timingSafeEqualText(flow.browser_binding, request.browser_binding)) {
      throw new DomainError('PERMISSION_DENIED', 'this authorization was started in another browser: start again from the link the MCP client showed');
    }
    const server = await this.perUserServer(flow.server_id);
    const hadAny = (await this.vault.latest(server.id, grantFingerprint(server))) !== null;
    const tokens = await this.client(server).exchangeCode({ callbackUrl, expectedState: state, codeVerifier: flow.code_verifier, redirectUri: flow.redirect_uri });
    await this.vault.put({
      server_id: server.id,
      user_id: flow.user_id,
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      token_type: tokens.token_type,
      scope: tokens.scope,
      expires_at: tokens.expires_at === null ? null : new Date(tokens.expires_at),
      grant_fingerprint: grantFingerprint(server),
    });
    this.bus.publish(UpstreamCredentialChanged, { server_id: server.id, user_id: flow.user_id, change: 'stored' });
    this.log.log(`user ${flow.user_id} authorized ${server.server_name}`);
    // the first grant of a per-user server: its catalog can now be listed with a token
    if (!hadAny) void this.catalog.invalidate([server.id]).catch((error: Error) => this.log.warn(`catalog refresh of ${server.server_name} failed: ${error.message}`));
    return { server_name: server.server_name, user_id: flow.user_id };
  }

  private async ticket(server: ServerRecord, user: { user_id: string; client_id: string; client_name?: string | undefined }): Promise<string> {
    const ticket = randomBytes(24).toString('base64url');
    const value: Ticket = { server_id: server.id, server_name: server.server_name, user_id: user.user_id, client_id: user.client_id, client_name: user.client_name ?? null };
    const key = CacheKeys.upstreamConsentTicket(ticket);
    await this.kv.set(key.key, JSON.stringify(value), key.ttlSeconds);
    return ticket;
  }

  private async readTicket(raw: string | null, serverName: string): Promise<Ticket> {
    const ticket = raw ? (JSON.parse(raw) as Ticket) : null;
    if (!ticket || ticket.server_name !== serverName) {
      throw new DomainError('NOT_FOUND', 'this consent link has expired or was already used: ask the MCP client for a new one (call the tool again)');
    }
    return ticket;
  }

  /**
   * The credential, refreshed first when it is about to expire, or when the upstream refused it (`rejected`: the
   * sha256 of the access token it refused): once per server and user across every replica.
   */
  private fresh(server: ServerRecord, credential: StoredCredential, rejected?: string): Promise<StoredCredential> {
    if (!stale(credential, rejected)) return Promise.resolve(credential);
    const key = `${server.id}\u0000${credential.user_id}`;
    let refresh = this.refreshing.get(key);
    if (!refresh) {
      refresh = this.refreshAcrossReplicas(server, credential.user_id, rejected).finally(() => this.refreshing.delete(key));
      this.refreshing.set(key, refresh);
    }
    return refresh;
  }

  private async refreshAcrossReplicas(server: ServerRecord, userId: string, rejected: string | undefined): Promise<StoredCredential> {
    const lock = CacheKeys.upstreamTokenRefresh(server.id, userId);
    const owner = randomUUID();
    const giveUpAt = Date.now() + REFRESH_WAIT_MS;
    for (;;) {
      if (await this.kv.setIfAbsent(lock.key, owner, lock.ttlSeconds)) {
        try {
          return await this.refreshHoldingLock(server, userId, rejected);
        } finally {
          await this.kv.deleteIfEquals(lock.key, owner).catch(() => false);
        }
      }
      // another replica is refreshing: wait for the token it stores
      await new Promise((resolve) => setTimeout(resolve, REFRESH_POLL_MS));
      const current = await this.vault.get(server.id, userId);
      if (!current) throw new RefreshFailed('the credential was removed');
      if (!stale(current, rejected)) return current;
      if (Date.now() > giveUpAt) throw new DomainError('UPSTREAM_TIMEOUT', `the upstream token for ${server.server_name} is being refreshed elsewhere and took too long`);
    }
  }

  private async refreshHoldingLock(server: ServerRecord, userId: string, rejected: string | undefined): Promise<StoredCredential> {
    // another replica may have refreshed between our read and taking the lock
    const current = await this.vault.get(server.id, userId);
    if (!current) throw new RefreshFailed('the credential was removed');
    if (!stale(current, rejected)) return current;
    if (!current.refresh_token) {
      await this.forget(server, userId);
      throw new RefreshFailed('it expired and there is no refresh token');
    }
    let tokens;
    try {
      tokens = await this.client(server).refresh(current.refresh_token);
    } catch (error) {
      if (DomainError.is(error, 'PERMISSION_DENIED')) {
        await this.forget(server, userId);
        throw new RefreshFailed(error.message);
      }
      throw error;
    }
    const refreshed: StoredCredential = {
      ...current,
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      token_type: tokens.token_type,
      scope: tokens.scope ?? current.scope,
      expires_at: tokens.expires_at === null ? null : new Date(tokens.expires_at),
      updated_at: new Date(),
    };
    await this.vault.put(refreshed);
    this.bus.publish(UpstreamCredentialChanged, { server_id: server.id, user_id: userId, change: 'refreshed' });
    this.log.log(`refreshed the upstream token of user ${userId} for ${server.server_name}`);
    return refreshed;
  }

  /** The user's grants on the per-user servers there are (rows of servers deleted since are left out). */
  async grants({ user_id }: RequestOf<typeof ListUpstreamGrants>): Promise<ReplyOf<typeof ListUpstreamGrants>> {
    const { credentials, consents } = await this.vault.ofUser(user_id);
    const serverIds = [...new Set([...credentials.map((c) => c.server_id), ...consents.map((c) => c.server_id)])];
    const grants: UpstreamGrant[] = [];
    for (const serverId of serverIds) {
      const server = await this.servers.findByRef(serverId);
      if (!server) continue;
      const credential = credentials.find((c) => c.server_id === serverId && c.grant_fingerprint === grantFingerprint(server));
      grants.push({
        server_id: server.id,
        server_name: server.server_name,
        has_token: credential !== undefined,
        scope: credential?.scope ?? null,
        expires_at: credential?.expires_at ? new Date(credential.expires_at).toISOString() : null,
        authorized_at: credential ? new Date(credential.created_at).toISOString() : null,
        clients: consents
          .filter((c) => c.server_id === serverId)
          .map((c) => ({ client_id: c.client_id, client_name: c.client_name, approved_at: new Date(c.approved_at).toISOString() })),
      });
    }
    return { grants: grants.sort((a, b) => a.server_name.localeCompare(b.server_name)) };
  }

  /**
   * Withdraws one client's approval, or the whole grant: tokens and approvals deleted, then the tokens revoked at the
   * authorization server (best effort: the vault no longer has them either way). Connectors drop their copies.
   */
  async revoke({ server: ref, user_id, client_id }: RequestOf<typeof RevokeUpstreamGrant>): Promise<ReplyOf<typeof RevokeUpstreamGrant>> {
    const server = await this.perUserServer(ref);
    const done = { server_name: server.server_name, user_id };
    if (client_id) {
      const removed = await this.vault.deleteConsents(server.id, user_id, client_id);
      if (removed === 0) throw new DomainError('NOT_FOUND', `user ${user_id} has not approved client ${client_id} for ${server.server_name}`, { server: server.server_name, client_id });
      this.bus.publish(UpstreamCredentialChanged, { server_id: server.id, user_id, change: 'deleted' });
      this.log.log(`user ${user_id} withdrew the approval of client ${client_id} for ${server.server_name}`);
      return { ...done, tokens_deleted: false, clients_removed: removed, revoked_at_authorization_server: null };
    }
    const credential = await this.vault.get(server.id, user_id);
    const removed = await this.vault.deleteConsents(server.id, user_id);
    const deleted = credential !== null && (await this.vault.delete(server.id, user_id));
    if (!deleted && removed === 0) throw new DomainError('NOT_FOUND', `user ${user_id} holds no grant for ${server.server_name}`, { server: server.server_name });
    this.bus.publish(UpstreamCredentialChanged, { server_id: server.id, user_id, change: 'deleted' });
    const fingerprint = grantFingerprint(server);
    const revoked = credential?.grant_fingerprint === fingerprint ? await this.revokeAtAuthorizationServer(server, credential) : null;
    // the catalog was listed with this user's token: with no other user's left it lists `authorize` again
    if (deleted && !(await this.vault.latest(server.id, fingerprint))) {
      void this.catalog.invalidate([server.id]).catch((error: Error) => this.log.warn(`catalog refresh of ${server.server_name} failed: ${error.message}`));
    }
    this.log.log(`user ${user_id} revoked their grant for ${server.server_name} (${removed} client approval(s); authorization server: ${revoked === null ? 'not asked' : revoked ? 'revoked' : 'not revoked'})`);
    return { ...done, tokens_deleted: deleted, clients_removed: removed, revoked_at_authorization_server: revoked };
  }

  /**
   * RFC 7009: the refresh token, which ends the grant (and its access tokens, at servers that track them); the access
   * token only when there is none (a self-contained JWT is often not revocable: `unsupported_token_type`).
   */
  private async revokeAtAuthorizationServer(server: ServerRecord, credential: StoredCredential): Promise<boolean> {
    try {
      const client = this.client(server);
      if (credential.refresh_token) return await client.revoke(credential.refresh_token, 'refresh_token');
      return await client.revoke(credential.access_token, 'access_token');
    } catch (error) {
      this.log.warn(`the tokens of user ${credential.user_id} for ${server.server_name} could not be revoked at the authorization server: ${(error as Error).message}`);
      return false;
    }
  }

  private async forget(server: ServerRecord, userId: string): Promise<void> {
    if (await this.vault.delete(server.id, userId)) this.bus.publish(UpstreamCredentialChanged, { server_id: server.id, user_id: userId, change: 'deleted' });
  }

  private async perUserServer(ref: string): Promise<ServerRecord> {
    const server = await this.servers.findByRef(ref);
    if (!server) throw new DomainError('NOT_FOUND', `MCP server "${ref}" does not exist`, { server: ref });
    if (server.auth_type !== 'oauth2' || server.oauth2_flow !== 'authorization_code') {
      throw new DomainError('INVALID_ARGUMENT', `MCP server "${server.server_name}" does not use per-user OAuth (auth_type oauth2, oauth2_flow authorization_code)`);
    }
    return server;
  }

  private client(server: ServerRecord): UpstreamOAuthClient {
    const revision = server.updated_at.toISOString();
    const cached = this.clients.get(server.id);
    if (cached?.revision === revision) return cached.client;
    const client = new UpstreamOAuthClient(
      { ...server, server_name: server.server_name, url: server.url },
      { checkUrl: (url) => this.policy.checkEndpoint(url, 'authorization server') },
    );
    this.clients.set(server.id, { revision, client });
    return client;
  }
}

/** A refresh that cannot succeed (no refresh token, invalid_grant): the user is asked to authorize again. */
class RefreshFailed extends Error {}

/** Refresh ahead of expiry (refreshAheadMs: a tenth of the lifetime, at least two seconds, at most a minute). */
export function needsRefresh(credential: Pick<StoredCredential, 'expires_at' | 'updated_at'>, now = Date.now()): boolean {
  if (!credential.expires_at) return false;
  const expires = credential.expires_at.getTime();
  return expires - refreshAheadMs(expires - credential.updated_at.getTime()) <= now;
}

/** Due for refresh, or the very token an upstream refused (by its sha256). */
function stale(credential: StoredCredential, rejected: string | undefined): boolean {
  return needsRefresh(credential) || (rejected !== undefined && createHash('sha256').update(credential.access_token).digest('hex') === rejected);
}

/** The grant a credential belongs to: another URL, client or authorization server makes the stored tokens void. */
export function grantFingerprint(server: Pick<ServerRecord, 'url' | 'client_id' | 'token_url' | 'authorization_url' | 'issuer'>): string {
  return createHash('sha256')
    .update(JSON.stringify([server.url, server.client_id, server.token_url, server.authorization_url, server.issuer]))
    .digest('hex');
}

function timingSafeEqualText(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return x.equals(y);
}
