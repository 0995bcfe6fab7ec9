export * from './data-command.js';
export * from './data-dir-lock.js';
export * from './data-source.js';
export * from './data-transfer.js';
export * from './embedded-database.js';
