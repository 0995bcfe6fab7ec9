/** Injection tokens for the edge's infrastructure. */
export const REDIS = Symbol('REDIS');
export const ORIGIN_POLICY = Symbol('ORIGIN_POLICY');
