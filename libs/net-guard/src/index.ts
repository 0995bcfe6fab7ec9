export * from './ip-ranges.js';
export * from './upstream-url-guard.js';
