import { z } from 'zod';
import { DatabaseEnv, RedisEnv } from '#libs/config';

/** The registry's environment on top of BusEnv (added by runService). */
export const RegistryEnv = {
  ...DatabaseEnv,
  ...RedisEnv,
  /** Key material for upstream credentials at rest; falls back to the master key. */
  SWITCHBOARD_SALT_KEY: z.string().min(1).optional(),
};
