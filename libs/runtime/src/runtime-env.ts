import { z } from 'zod';
import { DEFAULT_DATA_DIR } from '#libs/database';

/** How a process of Switchboard runs, besides what each service reads (SPEC section 1). */
export const RuntimeEnv = {
  /** The embedded database (PGlite) of the one-process default, when DATABASE_URL is unset. */
  SWITCHBOARD_DATA_DIR: z.string().min(1).default(DEFAULT_DATA_DIR),
  /** On SIGTERM, how long calls in flight may run on before the process closes its connections. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(60_000).default(3_000),
  /** A port of its own for /metrics (and /health/liveliness): one per process in the distributed suite. */
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** The OTLP/HTTP collector (e.g. http://otel-collector:4318); traces are exported only when it is set. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  /** Record metrics (on) or not (off: for measuring their cost; /metrics then has only process metrics). */
  SWITCHBOARD_METRICS: z.enum(['on', 'off']).default('on'),
  /** Record spans without exporting them (on) or not at all (off); an endpoint turns recording on. */
  SWITCHBOARD_TRACING: z.enum(['on', 'off']).default('off'),
};
