import type { z } from 'zod';
import type { BusEnv, ServiceSettings } from '#libs/config';
import type { EdgeEnv } from './config.js';

export type EdgeSettings = ServiceSettings<z.infer<z.ZodObject<typeof EdgeEnv & typeof BusEnv>>>;
export const EDGE_SETTINGS = Symbol('EDGE_SETTINGS');
