export * from './servers.js';
export * from './catalog.js';
export * from './upstream-oauth.js';
