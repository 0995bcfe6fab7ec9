import type { ServiceDefinition } from '#libs/runtime';
import { EdgeEnv } from './config.js';
import { startEdge } from './edge-http.js';

/** The public HTTP face. Needs the stores (sessions, rate counters) besides the bus. */
export const edgeDefinition: ServiceDefinition<typeof EdgeEnv> = {
  name: 'edge',
  env: EdgeEnv,
  needs: { stores: true },
  start: (context) => startEdge(context as never),
};
