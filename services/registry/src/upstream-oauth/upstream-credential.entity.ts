import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Table `mcp_upstream_credentials`: the vault of per-user upstream tokens (auth_type oauth2, authorization_code).
 * `access_token` and `refresh_token` hold AES-256-GCM ciphertext under the salt key (see CredentialCipher).
 */
@Entity({ name: 'mcp_upstream_credentials' })
export class UpstreamCredentialEntity {
  @PrimaryColumn({ type: 'uuid' })
  server_id!: string;

  @PrimaryColumn({ type: 'varchar', length: 256 })
  user_id!: string;

  @Column({ type: 'text' })
  access_token!: string;

  @Column({ type: 'text', nullable: true })
  refresh_token!: string | null;

  @Column({ type: 'varchar', length: 32 })
  token_type!: string;

  @Column({ type: 'text', nullable: true })
  scope!: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  expires_at!: Date | null;

  /** Which grant the tokens belong to (server URL, client and endpoints): another one makes them void. */
  @Column({ type: 'varchar', length: 64 })
  grant_fingerprint!: string;

  @Column({ type: 'timestamptz' })
  created_at!: Date;

  @Column({ type: 'timestamptz' })
  updated_at!: Date;
}

/** Table `mcp_upstream_consents`: the MCP clients a user approved to act with their grant on a server. */
@Entity({ name: 'mcp_upstream_consents' })
export class UpstreamConsentEntity {
  @PrimaryColumn({ type: 'uuid' })
  server_id!: string;

  @PrimaryColumn({ type: 'varchar', length: 256 })
  user_id!: string;

  @PrimaryColumn({ type: 'varchar', length: 256 })
  client_id!: string;

  @Column({ type: 'varchar', length: 256, nullable: true })
  client_name!: string | null;

  @Column({ type: 'timestamptz' })
  approved_at!: Date;
}
