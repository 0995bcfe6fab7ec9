import { runService } from '#libs/runtime';
import { authDefinition } from './auth.definition.js';

await runService(authDefinition);
