/** `npm run worker`: a Temporal worker for the `evaluations` task queue (DATABASE_URL and TEMPORAL_ADDRESS required). */
import { loadSettings } from './settings';
import { applyMigrations } from '../db/migrate';
import { createLogger } from '../logging/logger';
import { Metrics } from '../metrics/metrics';
import { startTracing } from '../tracing/tracing';
import { serveMetrics } from '../metrics/server';
import { requireEndpoints } from './endpoints';
import { startWorker, stopOnSignals } from './runtime';
import { lowerWorkerPriority, WORKER_READY } from './worker-process';

async function main() {
  const settings = loadSettings();
  const { config } = settings;
  const log = createLogger(config.logLevel, 'crucible-worker');
  // First, so the threads, scan servers and sandboxes started from here on inherit it.
  lowerWorkerPriority(log);
  const endpoints = requireEndpoints(config);
  await applyMigrations(endpoints.databaseUrl);
  const metrics = new Metrics();
  const tracing = startTracing('crucible-worker', config.tracesExporter);
  const worker = await startWorker(settings, endpoints, log, metrics, tracing);
  const metricsServer =
    config.workerMetricsPort !== undefined ? await serveMetrics(metrics, config.workerMetricsPort, config.host) : undefined;
  if (metricsServer) log.info({ url: metricsServer.url }, 'worker metrics listening');
  stopOnSignals(async () => {
    await worker.stop();
    await metricsServer?.close();
    await tracing?.shutdown();
  }, log);
  // Started by `npm start`: say so, and end with the parent (its embedded Temporal server goes with it).
  if (process.send) {
    process.send(WORKER_READY);
    process.once('disconnect', () => {
      log.warn('the npm start process went away; the worker stops (Temporal retries what it was running)');
      process.exit(1);
    });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
