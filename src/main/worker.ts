/** `npm run worker`: a Temporal worker for the `evaluations` task queue (DATABASE_URL and TEMPORAL_ADDRESS required). */
import { loadConfig } from '../config/config';
import { applyMigrations } from '../db/migrate';
import { createLogger } from '../logging/logger';
import { requireEndpoints } from './endpoints';
import { startWorker, stopOnSignals } from './runtime';

async function main() {
  const config = loadConfig();
  const log = createLogger(config.logLevel, 'crucible-worker');
  const endpoints = requireEndpoints(config);
  await applyMigrations(endpoints.databaseUrl);
  const worker = await startWorker(config, endpoints, log);
  stopOnSignals(() => worker.stop(), log);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
