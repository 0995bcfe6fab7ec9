import type { MigrationInterface, QueryRunner } from 'typeorm';

/** llm-proxy's own tables: stored responses (previous_response_id) and usage rows (spend logs). */
export class CreateLlmTables1765000000000 implements MigrationInterface {
  name = 'CreateLlmTables1765000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "llm_responses" (
        "id" varchar(64) PRIMARY KEY,
        "owner" varchar(64) NOT NULL,
        "response" jsonb NOT NULL,
        "conversation" jsonb NOT NULL,
        "pending" jsonb NOT NULL DEFAULT '[]'::jsonb,
        "created_at" timestamptz NOT NULL,
        "expires_at" timestamptz NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX "ix_llm_responses_expires_at" ON "llm_responses" ("expires_at")`);
    await queryRunner.query(`
      CREATE TABLE "llm_spend_logs" (
        "request_id" varchar(64) PRIMARY KEY,
        "call_type" varchar(32) NOT NULL,
        "api_key" varchar(64),
        "key_alias" text,
        "user_id" text,
        "team_id" text,
        "organization_id" text,
        "model_group" text NOT NULL,
        "model" text NOT NULL,
        "prompt_tokens" integer NOT NULL,
        "completion_tokens" integer NOT NULL,
        "spend" double precision NOT NULL,
        "start_time" timestamptz NOT NULL,
        "end_time" timestamptz NOT NULL,
        "status" varchar(16) NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX "ix_llm_spend_logs_api_key" ON "llm_spend_logs" ("api_key")`);
    await queryRunner.query(`CREATE INDEX "ix_llm_spend_logs_start_time" ON "llm_spend_logs" ("start_time")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "llm_spend_logs"`);
    await queryRunner.query(`DROP TABLE "llm_responses"`);
  }
}
