import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import type { CatalogServer, Principal, UpstreamUser } from '#libs/contracts';
import { extractApiKey } from '../auth/credentials.js';
import { EDGE_SETTINGS, type EdgeSettings } from '../edge-settings.js';

/**
 * Who a forwarded request acts for, as the connector needs it for per-user upstream OAuth: the caller's user (the
 * key's `user_id`, or the user an OAuth sign-in maps to; a key without one is its own user), the client acting
 * (the key; for an OAuth sign-in, the OAuth client the token was issued to, for that user: consent is given per
 * client) and the gateway's base URL as the client reached it (consent links start with it). Nothing in it is a
 * credential.
 */
@Injectable()
export class UpstreamUsers {
  private readonly publicBaseUrl: string | undefined;

  constructor(@Inject(EDGE_SETTINGS) settings: EdgeSettings) {
    const general = settings.file.config.general_settings as { public_base_url?: string };
    this.publicBaseUrl = general.public_base_url?.replace(/\/+$/, '') || undefined;
  }

  of(principal: Principal | undefined, headers: IncomingHttpHeaders, server?: Pick<CatalogServer, 'token_exchange'>): UpstreamUser | undefined {
    if (!principal) return undefined;
    // the caller's own OAuth token, only toward a server that exchanges it (RFC 8693); never an API key
    const subject = server?.token_exchange && principal.oauth_issuer ? extractApiKey(headers) : undefined;
    const client = clientOf(principal);
    const name = principal.oauth_client_id ? `${principal.oauth_client_id} (${principal.key_alias ?? 'oauth'})` : (principal.key_alias ?? principal.key_name ?? undefined);
    return {
      user_id: principal.user_id ?? (principal.token_hash ? `key:${principal.token_hash}` : 'master'),
      client_id: client,
      ...(name ? { client_name: name } : {}),
      gateway_url: this.baseUrl(headers),
      ...(subject ? { subject_token: subject } : {}),
    };
  }

  /**
   * general_settings.public_base_url, else `http://{Host}` (the Host the edge's host validation admitted; never
   * X-Forwarded-*: set public_base_url behind a proxy that terminates TLS).
   */
  baseUrl(headers: IncomingHttpHeaders): string {
    if (this.publicBaseUrl) return this.publicBaseUrl;
    const host = typeof headers.host === 'string' && /^[A-Za-z0-9.\-:[\]]+$/.test(headers.host) ? headers.host.toLowerCase() : 'localhost';
    return `http://${host}`;
  }
}

/** The consenting client's id: the key's hash; for an OAuth sign-in, a hash of the user's and the OAuth client's. */
export function clientOf(principal: Principal): string {
  if (!principal.oauth_client_id) return principal.token_hash ?? 'master';
  return createHash('sha256').update(`${principal.token_hash ?? ''}\n${principal.oauth_client_id}`).digest('hex');
}
