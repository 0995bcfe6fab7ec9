/** Injection tokens for the edge's infrastructure. */
export const ORIGIN_POLICY = Symbol('ORIGIN_POLICY');
