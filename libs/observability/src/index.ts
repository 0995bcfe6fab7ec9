export * from './json-logger.js';
export * from './metrics.js';
export * from './tracing.js';
