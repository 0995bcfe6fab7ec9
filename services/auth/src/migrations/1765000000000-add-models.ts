import type { MigrationInterface, QueryRunner } from 'typeorm';

/** LiteLLM's `models` of keys and teams: the model_names each may use on /v1 (empty = every model). */
export class AddModels1765000000000 implements MigrationInterface {
  name = 'AddModels1765000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "keys" ADD COLUMN "models" jsonb NOT NULL DEFAULT '[]'::jsonb`);
    await queryRunner.query(`ALTER TABLE "teams" ADD COLUMN "models" jsonb NOT NULL DEFAULT '[]'::jsonb`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "teams" DROP COLUMN "models"`);
    await queryRunner.query(`ALTER TABLE "keys" DROP COLUMN "models"`);
  }
}
