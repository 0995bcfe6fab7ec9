export * from './runtime-env.js';
export * from './infrastructure.js';
export * from './service-definition.js';
export * from './run-service.js';
export * from './shutdown.js';
export * from './observability.js';
