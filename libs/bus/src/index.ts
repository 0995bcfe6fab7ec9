export * from './bus-client.js';
export * from './bus-context.js';
export * from './bus-server.js';
export * from './rpc-handler.decorator.js';
export * from './rpc-error.filter.js';
export * from './bootstrap.js';
export * from './run-service.js';
