export * from './redis.js';
export * from './cache-keys.js';
