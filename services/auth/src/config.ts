import { DatabaseEnv } from '#libs/config';

/**
 * Auth's environment on top of BusEnv: its database. MASTER_KEY comes from ConfigFileEnv (or
 * general_settings.master_key). Auth keeps no Redis state: rate counters live in Redis but are counted by the
 * edge with RateLimiter from libs/permissions, on the hot path.
 */
export const AuthEnv = {
  ...DatabaseEnv,
};
