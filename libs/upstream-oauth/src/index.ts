export * from './oauth-client.js';
