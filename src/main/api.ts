/** `npm run api`: the HTTP API alone (DATABASE_URL and TEMPORAL_ADDRESS required). */
import { loadSettings } from './settings';
import { applyMigrations } from '../db/migrate';
import { createLogger } from '../logging/logger';
import { Metrics } from '../metrics/metrics';
import { startTracing } from '../tracing/tracing';
import { requireEndpoints } from './endpoints';
import { startApi, stopOnSignals } from './runtime';

async function main() {
  const settings = loadSettings();
  const { config } = settings;
  const log = createLogger(config.logLevel, 'crucible-api');
  const endpoints = requireEndpoints(config);
  await applyMigrations(endpoints.databaseUrl);
  const tracing = startTracing('crucible-api', config.tracesExporter);
  const api = await startApi(settings, endpoints, log, new Metrics(), tracing);
  stopOnSignals(async () => {
    await api.drainAndStop();
    await tracing?.shutdown();
  }, log);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
