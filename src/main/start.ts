/**
 * `npm start`: everything on one machine. With DATABASE_URL unset it starts an embedded
 * PostgreSQL (PGlite); with TEMPORAL_ADDRESS unset, an embedded Temporal dev server with its
 * Web UI. Data lives under DATA_DIR, so a restart finds earlier evaluations.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadSettings } from './settings';
import { connectionSecurity } from '../temporal/connection-security';
import { ApiKeyStore } from '../api/auth/api-keys';
import { ensureLocalApiKey } from '../api/auth/local-key';
import { createDb } from '../db/client';
import { applyMigrations } from '../db/migrate';
import { startEmbeddedPostgres } from '../embedded/postgres';
import { startEmbeddedTemporal } from '../embedded/temporal';
import { createLogger } from '../logging/logger';
import { Metrics } from '../metrics/metrics';
import { startTracing } from '../tracing/tracing';
import { installTemporalRuntime } from '../temporal/runtime';
import { SEARCH_ATTRIBUTE_KEYS } from '../workflows/search-attributes';
import { startApi, stopOnSignals } from './runtime';
import { startWorkerProcess } from './worker-process';

async function main() {
  const settings = loadSettings();
  const { config } = settings;
  const log = createLogger(config.logLevel, 'crucible');
  fs.mkdirSync(config.dataDir, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
  };
  stopOnSignals(stopAll, log);

  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres({ dataDir: path.join(config.dataDir, 'postgres'), port: config.embeddedPostgresPort });
      stops.push(() => pg.stop());
      databaseUrl = pg.url;
      log.info({ dataDir: path.join(config.dataDir, 'postgres') }, 'embedded PostgreSQL (PGlite) started');
    }
    await applyMigrations(databaseUrl);
    const localKey = config.authDisabled ? undefined : await createLocalKey(databaseUrl, config.dataDir);

    let temporalAddress = config.temporal.address;
    let uiUrl: string | undefined;
    let temporalMetricsUrl: string | undefined;
    if (!temporalAddress) {
      // The embedded server runs through the SDK's runtime, which must be ours (no signal handlers
      // of its own) before anything instantiates the default one. It serves no SDK metrics: the
      // worker process does, on TEMPORAL_METRICS_BIND_ADDRESS (both binding it failed the start).
      installTemporalRuntime(log);
      const temporal = await startEmbeddedTemporal({
        dataDir: path.join(config.dataDir, 'temporal'),
        port: config.temporal.port,
        uiPort: config.temporal.uiPort,
        metricsPort: config.temporal.serverMetricsPort,
        namespace: config.temporal.namespace,
        searchAttributes: SEARCH_ATTRIBUTE_KEYS,
        log: (line) => log.info({ source: 'temporal' }, line),
      });
      stops.push(() => temporal.stop());
      temporalAddress = temporal.address;
      uiUrl = temporal.uiUrl;
      temporalMetricsUrl = temporal.metricsUrl;
    }

    // A configured cluster may be secured; the embedded dev server is plain loopback.
    const temporalSecurity = config.temporal.address ? connectionSecurity(config.temporal.security) : undefined;
    const endpoints = { databaseUrl, temporalAddress, temporalSecurity };
    const tracing = startTracing('crucible', config.tracesExporter);
    if (tracing) stops.push(() => tracing.shutdown());
    // The worker in its own process at a lower priority, so the API stays responsive while
    // sandboxes and scans saturate the machine (see worker-process.ts). Its metrics are served
    // on WORKER_METRICS_PORT when set; the API's /metrics has the API's.
    const worker = await startWorkerProcess({ DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress }, log);
    stops.push(() => worker.stop());
    const api = await startApi(settings, endpoints, log, new Metrics(), tracing);
    stops.push(() => api.stop());

    const lines = [
      '',
      `  Crucible is running.`,
      `  API:          ${api.url}   (OpenAPI: ${api.url}/openapi.json)`,
      uiUrl ? `  Temporal UI:  ${uiUrl}` : `  Temporal:     ${temporalAddress}`,
      ...(temporalMetricsUrl ? [`  Temporal server metrics: ${temporalMetricsUrl}`] : []),
      `  Data:         ${config.dataDir}`,
      localKey
        ? `  API key:      ${localKey.created ? 'created and ' : ''}stored in ${localKey.file} (tenant "local", all scopes)`
        : `  API key:      none needed (AUTH_DISABLED=true)`,
      `  Try:  curl -X POST ${api.url}/v1/evaluations -H 'content-type: application/json'${localKey ? ` -H "authorization: Bearer $(cat ${localKey.file})"` : ''} -d '{"language":"python","code":"print(sum(range(10)))"}'`,
      `  Ctrl-C stops everything.`,
      '',
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } catch (err) {
    log.error({ err }, 'start-up failed');
    await stopAll();
    throw err;
  }
}

/** The one-command start is secure by default too: it makes a key for the local user. */
async function createLocalKey(databaseUrl: string, dataDir: string) {
  const db = createDb(databaseUrl, { maxConnections: 1 });
  try {
    return await ensureLocalApiKey({ keys: new ApiKeyStore(db), dataDir });
  } finally {
    await db.$disconnect();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
