export * from './config-error.js';
export * from './gateway-config.js';
export * from './settings.js';
export * from './duration.js';
export * from './jwt-auth-config.js';
