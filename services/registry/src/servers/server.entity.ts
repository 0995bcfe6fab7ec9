import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Table `mcp_servers`. Every column names its type: the test transformer emits no decorator metadata.
 * `auth_value`, `client_secret` and `env` hold AES-256-GCM ciphertext (see CredentialCipher), never the secret itself.
 */
@Entity({ name: 'mcp_servers' })
export class McpServerEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'varchar', length: 64, unique: true })
  server_name!: string;

  @Column({ type: 'varchar', length: 100, nullable: true })
  alias!: string | null;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  @Column({ type: 'text', nullable: true })
  url!: string | null;

  @Column({ type: 'varchar', length: 16 })
  transport!: string;

  @Column({ type: 'text', nullable: true })
  command!: string | null;

  @Column({ type: 'jsonb', default: () => "'[]'::jsonb" })
  args!: string[];

  /** Encrypted JSON object of the stdio server's environment; null when empty. */
  @Column({ type: 'text', nullable: true })
  env!: string | null;

  @Column({ type: 'varchar', length: 32 })
  auth_type!: string;

  /** Encrypted; null when there is none. */
  @Column({ type: 'text', nullable: true })
  auth_value!: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" })
  static_headers!: Record<string, string>;

  @Column({ type: 'jsonb', default: () => "'[]'::jsonb" })
  extra_headers!: string[];

  @Column({ type: 'jsonb', nullable: true })
  allowed_tools!: string[] | null;

  @Column({ type: 'jsonb', nullable: true })
  disallowed_tools!: string[] | null;

  @Column({ type: 'jsonb', default: () => "'[]'::jsonb" })
  access_groups!: string[];

  @Column({ type: 'boolean', default: false })
  allow_all_keys!: boolean;

  @Column({ type: 'double precision', nullable: true })
  timeout!: number | null;

  @Column({ type: 'integer', nullable: true })
  max_concurrent_requests!: number | null;

  @Column({ type: 'varchar', length: 16, nullable: true })
  spec_version!: string | null;

  /** auth_type oauth2 / oauth2_token_exchange: the settings without the secret (flow, client_id, endpoints, scopes…). */
  @Column({ type: 'jsonb', nullable: true })
  oauth2!: Record<string, string | string[]> | null;

  /** Encrypted; null when there is none. */
  @Column({ type: 'text', nullable: true })
  client_secret!: string | null;

  @Column({ type: 'varchar', length: 8 })
  source!: 'config' | 'api';

  @Column({ type: 'timestamptz' })
  created_at!: Date;

  @Column({ type: 'timestamptz' })
  updated_at!: Date;
}
