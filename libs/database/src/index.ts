export * from './data-dir-lock.js';
export * from './data-source.js';
export * from './embedded-database.js';
