export * from './effective-access.js';
export * from './rate-limiter.js';
