import { runService } from '#libs/runtime';
import { edgeDefinition } from './edge.definition.js';

await runService(edgeDefinition);
