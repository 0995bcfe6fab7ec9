import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * OAuth toward upstreams: a server's OAuth settings (the secret encrypted apart), the vault of per-user tokens
 * (encrypted, one row per server and user) and the clients each user approved per server.
 */
export class UpstreamOAuth1767000000000 implements MigrationInterface {
  name = 'UpstreamOAuth1767000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "mcp_servers" ADD COLUMN "oauth2" jsonb, ADD COLUMN "client_secret" text`);
    await queryRunner.query(`
      CREATE TABLE "mcp_upstream_credentials" (
        "server_id" uuid NOT NULL REFERENCES "mcp_servers" ("id") ON DELETE CASCADE,
        "user_id" varchar(256) NOT NULL,
        "access_token" text NOT NULL,
        "refresh_token" text,
        "token_type" varchar(32) NOT NULL DEFAULT 'bearer',
        "scope" text,
        "expires_at" timestamptz,
        "grant_fingerprint" varchar(64) NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY ("server_id", "user_id")
      )`);
    await queryRunner.query(`CREATE INDEX "ix_mcp_upstream_credentials_latest" ON "mcp_upstream_credentials" ("server_id", "updated_at" DESC)`);
    await queryRunner.query(`
      CREATE TABLE "mcp_upstream_consents" (
        "server_id" uuid NOT NULL REFERENCES "mcp_servers" ("id") ON DELETE CASCADE,
        "user_id" varchar(256) NOT NULL,
        "client_id" varchar(256) NOT NULL,
        "client_name" varchar(256),
        "approved_at" timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY ("server_id", "user_id", "client_id")
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "mcp_upstream_consents"`);
    await queryRunner.query(`DROP TABLE "mcp_upstream_credentials"`);
    await queryRunner.query(`ALTER TABLE "mcp_servers" DROP COLUMN "client_secret", DROP COLUMN "oauth2"`);
  }
}
