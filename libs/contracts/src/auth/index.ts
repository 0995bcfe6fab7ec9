export * from './permission.js';
export * from './common.js';
export * from './principal.js';
export * from './token-principal.js';
export * from './keys.js';
export * from './teams.js';
export * from './organizations.js';
export * from './audit.js';
