import { CreateLlmTables1765000000000 } from './1765000000000-create-llm-tables.js';
import { RetentionByAge1765000000001 } from './1765000000001-retention-by-age.js';

/** Every llm-proxy migration, oldest first. */
export const llmProxyMigrations = [CreateLlmTables1765000000000, RetentionByAge1765000000001];
