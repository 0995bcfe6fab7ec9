import { CreateLlmTables1765000000000 } from './1765000000000-create-llm-tables.js';

/** Every llm-proxy migration, oldest first. */
export const llmProxyMigrations = [CreateLlmTables1765000000000];
