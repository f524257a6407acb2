import { ConfigError, type Config } from '../config/config';
import type { Endpoints } from './runtime';
import { connectionSecurity } from '../temporal/connection-security';

/** The separate api/worker processes do not start embedded services: they need both addresses. */
export function requireEndpoints(config: Config): Endpoints {
  const missing = [!config.databaseUrl && 'DATABASE_URL', !config.temporal.address && 'TEMPORAL_ADDRESS'].filter(Boolean);
  if (missing.length > 0) {
    throw new ConfigError(`${missing.join(' and ')} must be set for this process (use \`npm start\` for embedded PostgreSQL and Temporal)`);
  }
  return {
    databaseUrl: config.databaseUrl!,
    temporalAddress: config.temporal.address!,
    temporalSecurity: connectionSecurity(config.temporal.security),
  };
}
