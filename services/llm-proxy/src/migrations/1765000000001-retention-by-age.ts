import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Stored responses are kept by age (maximum_spend_logs_retention_period), not by an expiry fixed when written. */
export class RetentionByAge1765000000001 implements MigrationInterface {
  name = 'RetentionByAge1765000000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX IF EXISTS "ix_llm_responses_expires_at"`);
    await queryRunner.query(`ALTER TABLE "llm_responses" DROP COLUMN "expires_at"`);
    await queryRunner.query(`CREATE INDEX "ix_llm_responses_created_at" ON "llm_responses" ("created_at")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "ix_llm_responses_created_at"`);
    await queryRunner.query(`ALTER TABLE "llm_responses" ADD COLUMN "expires_at" timestamptz NOT NULL DEFAULT 'infinity'`);
    await queryRunner.query(`CREATE INDEX "ix_llm_responses_expires_at" ON "llm_responses" ("expires_at")`);
  }
}
