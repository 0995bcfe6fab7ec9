import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateMcpServers1732000000000 implements MigrationInterface {
  name = 'CreateMcpServers1732000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "mcp_servers" (
        "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "server_name" varchar(64) NOT NULL,
        "alias" varchar(100),
        "description" text,
        "url" text,
        "transport" varchar(16) NOT NULL,
        "command" text,
        "args" jsonb NOT NULL DEFAULT '[]'::jsonb,
        "env" text,
        "auth_type" varchar(32) NOT NULL DEFAULT 'none',
        "auth_value" text,
        "static_headers" jsonb NOT NULL DEFAULT '{}'::jsonb,
        "extra_headers" jsonb NOT NULL DEFAULT '[]'::jsonb,
        "allowed_tools" jsonb,
        "disallowed_tools" jsonb,
        "access_groups" jsonb NOT NULL DEFAULT '[]'::jsonb,
        "allow_all_keys" boolean NOT NULL DEFAULT false,
        "timeout" double precision,
        "max_concurrent_requests" integer,
        "spec_version" varchar(16),
        "source" varchar(8) NOT NULL CHECK ("source" IN ('config', 'api')),
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "uq_mcp_servers_server_name" UNIQUE ("server_name")
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "mcp_servers"`);
  }
}
