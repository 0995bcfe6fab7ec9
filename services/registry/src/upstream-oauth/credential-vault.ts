import { Inject, Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { REGISTRY_DATA_SOURCE } from '../tokens.js';
import { CredentialCipher } from '../servers/credential-cipher.js';
import { UpstreamConsentEntity, UpstreamCredentialEntity } from './upstream-credential.entity.js';

/** One user's tokens for one server, in clear (memory only). */
export interface StoredCredential {
  server_id: string;
  user_id: string;
  access_token: string;
  refresh_token: string | null;
  token_type: string;
  scope: string | null;
  expires_at: Date | null;
  grant_fingerprint: string;
  updated_at: Date;
}

/**
 * The only place that touches `mcp_upstream_credentials` and `mcp_upstream_consents`: tokens are encrypted on the
 * way in and decrypted on the way out, with the same salt key as the servers' credentials.
 */
@Injectable()
export class CredentialVault {
  constructor(
    @Inject(REGISTRY_DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(CredentialCipher) private readonly cipher: CredentialCipher,
  ) {}

  async get(serverId: string, userId: string): Promise<StoredCredential | null> {
    const row = await this.dataSource.getRepository(UpstreamCredentialEntity).findOne({ where: { server_id: serverId, user_id: userId } });
    return row ? this.toCredential(row) : null;
  }

  /** The credential stored or refreshed last for a server (catalog fetches list a per-user server with it). */
  async latest(serverId: string, fingerprint: string): Promise<StoredCredential | null> {
    const row = await this.dataSource
      .getRepository(UpstreamCredentialEntity)
      .findOne({ where: { server_id: serverId, grant_fingerprint: fingerprint }, order: { updated_at: 'DESC' } });
    return row ? this.toCredential(row) : null;
  }

  async put(credential: Omit<StoredCredential, 'updated_at'>): Promise<void> {
    const now = new Date();
    await this.dataSource
      .createQueryBuilder()
      .insert()
      .into(UpstreamCredentialEntity)
      .values({
        server_id: credential.server_id,
        user_id: credential.user_id,
        access_token: this.cipher.encrypt(credential.access_token),
        refresh_token: credential.refresh_token ? this.cipher.encrypt(credential.refresh_token) : null,
        token_type: credential.token_type.slice(0, 32),
        scope: credential.scope,
        expires_at: credential.expires_at,
        grant_fingerprint: credential.grant_fingerprint,
        created_at: now,
        updated_at: now,
      })
      .orUpdate(['access_token', 'refresh_token', 'token_type', 'scope', 'expires_at', 'grant_fingerprint', 'updated_at'], ['server_id', 'user_id'])
      .execute();
  }

  async delete(serverId: string, userId: string): Promise<boolean> {
    const result = await this.dataSource.getRepository(UpstreamCredentialEntity).delete({ server_id: serverId, user_id: userId });
    return (result.affected ?? 0) > 0;
  }

  /** A user's credential rows (tokens left encrypted: only their metadata is read) and approvals, every server. */
  async ofUser(userId: string): Promise<{ credentials: UpstreamCredentialEntity[]; consents: UpstreamConsentEntity[] }> {
    const [credentials, consents] = await Promise.all([
      this.dataSource.getRepository(UpstreamCredentialEntity).find({ where: { user_id: userId }, select: { server_id: true, scope: true, expires_at: true, grant_fingerprint: true, created_at: true } }),
      this.dataSource.getRepository(UpstreamConsentEntity).find({ where: { user_id: userId }, order: { approved_at: 'ASC' } }),
    ]);
    return { credentials, consents };
  }

  /** Removes the user's approvals for a server: one client's, or every one. Returns how many went. */
  async deleteConsents(serverId: string, userId: string, clientId?: string): Promise<number> {
    const result = await this.dataSource.getRepository(UpstreamConsentEntity).delete({ server_id: serverId, user_id: userId, ...(clientId ? { client_id: clientId } : {}) });
    return result.affected ?? 0;
  }

  async hasConsent(serverId: string, userId: string, clientId: string): Promise<boolean> {
    return this.dataSource.getRepository(UpstreamConsentEntity).exists({ where: { server_id: serverId, user_id: userId, client_id: clientId } });
  }

  async recordConsent(serverId: string, userId: string, clientId: string, clientName: string | null): Promise<void> {
    await this.dataSource
      .createQueryBuilder()
      .insert()
      .into(UpstreamConsentEntity)
      .values({ server_id: serverId, user_id: userId, client_id: clientId, client_name: clientName?.slice(0, 256) ?? null, approved_at: new Date() })
      .orUpdate(['client_name', 'approved_at'], ['server_id', 'user_id', 'client_id'])
      .execute();
  }

  private toCredential(row: UpstreamCredentialEntity): StoredCredential {
    return {
      server_id: row.server_id,
      user_id: row.user_id,
      access_token: this.cipher.decrypt(row.access_token),
      refresh_token: row.refresh_token ? this.cipher.decrypt(row.refresh_token) : null,
      token_type: row.token_type,
      scope: row.scope,
      expires_at: row.expires_at ? new Date(row.expires_at) : null,
      grant_fingerprint: row.grant_fingerprint,
      updated_at: new Date(row.updated_at),
    };
  }
}
