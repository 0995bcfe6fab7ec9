import type { DataSource } from 'typeorm';
import { openServiceDatabase, type DatabaseTarget, type ServiceData } from '#libs/database';
import { llmProxyMigrations } from './migrations/index.js';
import { StoredResponseEntity } from './responses/stored-response.entity.js';
import { SpendLogEntity } from './usage/spend-log.entity.js';

/** llm-proxy's database (Postgres or the embedded one): stored responses and usage rows. */
export function openLlmProxyDatabase(target: DatabaseTarget): Promise<DataSource> {
  return openServiceDatabase({ target, service: 'llm-proxy', entities: [StoredResponseEntity, SpendLogEntity], migrations: llmProxyMigrations });
}

/** llm-proxy's part of `npm run data` (copy, export, import). */
export const LLM_PROXY_DATA: ServiceData = {
  service: 'llm-proxy',
  open: openLlmProxyDatabase,
  tables: [
    { name: 'llm_responses', key: 'id' },
    { name: 'llm_spend_logs', key: 'request_id' },
  ],
};
