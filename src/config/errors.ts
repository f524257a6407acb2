/**
 * Kept apart from config.ts so that modules which validate settings later (connection security
 * reads certificate files) can throw it without importing the schema, and config.ts without them.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
