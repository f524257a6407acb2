/** `npm run api`: the HTTP API alone (DATABASE_URL and TEMPORAL_ADDRESS required). */
import { loadConfig } from '../config/config';
import { applyMigrations } from '../db/migrate';
import { createLogger } from '../logging/logger';
import { requireEndpoints } from './endpoints';
import { startApi, stopOnSignals } from './runtime';

async function main() {
  const config = loadConfig();
  const log = createLogger(config.logLevel, 'crucible-api');
  const endpoints = requireEndpoints(config);
  await applyMigrations(endpoints.databaseUrl);
  const api = await startApi(config, endpoints, log);
  stopOnSignals(() => api.stop(), log);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
