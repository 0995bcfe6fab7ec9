import { z } from 'zod';

/** How a process of Switchboard runs, besides what each service reads (SPEC section 1). */
export const RuntimeEnv = {
  /** The embedded database (PGlite) of the one-process default, when DATABASE_URL is unset. */
  SWITCHBOARD_DATA_DIR: z.string().min(1).default('.switchboard'),
  /** On SIGTERM, how long calls in flight may run on before the process closes its connections. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(60_000).default(3_000),
};
