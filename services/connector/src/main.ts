import { runService } from '#libs/runtime';
import { connectorDefinition } from './connector.definition.js';

await runService(connectorDefinition);
