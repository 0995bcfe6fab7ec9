import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Table `llm_spend_logs`: one row per LLM request (LiteLLM's SpendLogs). Never the key itself, only its sha256. */
@Entity({ name: 'llm_spend_logs' })
export class SpendLogEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  request_id!: string;

  @Column({ type: 'varchar', length: 32 })
  call_type!: string;

  @Index('ix_llm_spend_logs_api_key')
  @Column({ type: 'varchar', length: 64, nullable: true })
  api_key!: string | null;

  @Column({ type: 'text', nullable: true })
  key_alias!: string | null;

  @Column({ type: 'text', nullable: true })
  user_id!: string | null;

  @Column({ type: 'text', nullable: true })
  team_id!: string | null;

  @Column({ type: 'text', nullable: true })
  organization_id!: string | null;

  @Column({ type: 'text' })
  model_group!: string;

  @Column({ type: 'text' })
  model!: string;

  @Column({ type: 'integer' })
  prompt_tokens!: number;

  @Column({ type: 'integer' })
  completion_tokens!: number;

  @Column({ type: 'double precision' })
  spend!: number;

  @Index('ix_llm_spend_logs_start_time')
  @Column({ type: 'timestamptz' })
  start_time!: Date;

  @Column({ type: 'timestamptz' })
  end_time!: Date;

  @Column({ type: 'varchar', length: 16 })
  status!: string;
}
