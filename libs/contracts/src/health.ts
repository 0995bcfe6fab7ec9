import { z } from 'zod';
import { defineContract } from './contract.js';
import { Subjects } from './subjects.js';

export const ServiceName = z.enum(['edge', 'registry', 'auth', 'connector', 'llm-proxy']);
export type ServiceName = z.infer<typeof ServiceName>;

export const PingReply = z.object({ service: ServiceName, checks: z.record(z.string(), z.boolean()) });
export const pingContract = (service: ServiceName) =>
  defineContract(`Ping(${service})`, Subjects.health.ping(service), z.object({}), PingReply);
