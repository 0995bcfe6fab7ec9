import { runService } from '#libs/runtime';
import { llmProxyDefinition } from './llm-proxy.definition.js';

await runService(llmProxyDefinition);
