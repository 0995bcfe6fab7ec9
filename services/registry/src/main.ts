import { runService } from '#libs/runtime';
import { registryDefinition } from './registry.definition.js';

await runService(registryDefinition);
