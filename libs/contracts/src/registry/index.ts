export * from './servers.js';
export * from './catalog.js';
