import { z } from 'zod';

/** Travels with every bus request: the caller's deadline (epoch ms), trace context and request id. */
export const RequestMeta = z.object({
  deadline: z.number().optional(),
  traceparent: z.string().optional(),
  /** The edge's id of the HTTP request that caused this call, for log lines on every service. */
  request_id: z.string().optional(),
});
export type RequestMeta = z.infer<typeof RequestMeta>;
