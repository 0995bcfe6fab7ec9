import { z } from 'zod';

/** Travels with every bus request: the caller's deadline (epoch ms) and trace context. */
export const RequestMeta = z.object({
  deadline: z.number().optional(),
  traceparent: z.string().optional(),
});
export type RequestMeta = z.infer<typeof RequestMeta>;
