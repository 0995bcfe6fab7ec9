export * from './caller.js';
export * from './models.js';
export * from './mcp-tools.js';
export * from './completions.js';
export * from './spend.js';
