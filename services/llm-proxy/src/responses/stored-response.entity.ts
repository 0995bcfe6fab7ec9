import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Table `llm_responses`: llm-proxy's stored responses. Every column names its type (no decorator metadata in tests). */
@Entity({ name: 'llm_responses' })
export class StoredResponseEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  owner!: string;

  @Column({ type: 'jsonb' })
  response!: Record<string, unknown>;

  @Column({ type: 'jsonb' })
  conversation!: unknown[];

  @Column({ type: 'jsonb', default: () => "'[]'::jsonb" })
  pending!: unknown[];

  @Index('ix_llm_responses_created_at')
  @Column({ type: 'timestamptz' })
  created_at!: Date;
}
