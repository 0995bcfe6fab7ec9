/** Injection tokens for what RegistryModule.register receives from main.ts (or a test). */
export const REGISTRY_DATA_SOURCE = Symbol('RegistryDataSource');
export const REGISTRY_OPTIONS = Symbol('RegistryOptions');
