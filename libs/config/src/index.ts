export * from './config-error.js';
export * from './gateway-config.js';
export * from './settings.js';
export * from './duration.js';
