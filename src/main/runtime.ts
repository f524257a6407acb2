/**
 * Assembles the two processes from configuration: the API (Hono on Node) and the worker
 * (Temporal worker with the activities). `start` runs both in one process; `api` and `worker`
 * run one each, for deployments.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createApp } from '../api/app';
import { Submissions } from '../api/submissions';
import type { Config } from '../config/config';
import { createDb, type Db } from '../db/client';
import { EvaluationStore } from '../db/evaluations';
import type { Logger } from '../logging/logger';
import type { Metrics } from '../metrics/metrics';
import { createEngine } from '../sandbox';
import { scanCode } from '../scanner';
import type { ScanPolicy } from '../scanner/decide';
import { connectClient } from '../temporal/connection';
import { TemporalGateway } from '../temporal/gateway';
import { installTemporalRuntime } from '../temporal/runtime';
import { connectWorker, createEvaluationWorker } from '../temporal/worker';

export interface Endpoints {
  databaseUrl: string;
  temporalAddress: string;
}

/** Everything read and validated at start-up, before any connection is made. */
export interface Settings {
  config: Config;
  policy: ScanPolicy;
}

export interface Running {
  stop(): Promise<void>;
}

export async function startWorker({ config, policy }: Settings, endpoints: Endpoints, log: Logger, metrics: Metrics): Promise<Running & { worker: Worker }> {
  installTemporalRuntime(log);
  const engine = createEngine({ engine: config.engine, allowProcessEngine: config.allowProcessEngine });
  const engineCheck = await engine.check();
  if (!engineCheck.ok) log.warn({ engine: engine.name, detail: engineCheck.detail }, 'sandbox engine self-check failed; executions will be retried until it works');

  const db = createDb(endpoints.databaseUrl);
  const store = new EvaluationStore(db);
  const connection = await connectWorker(endpoints.temporalAddress);
  const worker = await createEvaluationWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    activities: createActivities({ store, engine, policy, log, metrics, scan: (language, code) => scanCode(language, code, { pythonPath: config.scannerPython }) }),
    maxConcurrentExecutions: config.workerConcurrency,
  });
  const running = worker.run();
  log.info({ taskQueue: config.temporal.taskQueue, engine: engine.name }, 'worker started');
  return {
    worker,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
      await db.$disconnect();
    },
  };
}

export async function startApi({ config, policy }: Settings, endpoints: Endpoints, log: Logger, metrics: Metrics): Promise<Running & { server: ServerType; url: string }> {
  // The API runs no code, but /readyz says whether the configured engine works on this machine.
  const engine = createEngine({ engine: config.engine, allowProcessEngine: config.allowProcessEngine });
  const db: Db = createDb(endpoints.databaseUrl);
  const store = new EvaluationStore(db);
  const client = await connectClient({ address: endpoints.temporalAddress, namespace: config.temporal.namespace });
  const temporal = new TemporalGateway(client, config.temporal.taskQueue);
  const app = createApp({
    store,
    temporal,
    submissions: new Submissions({ store, temporal, reviewTimeout: config.reviewTimeout }),
    log,
    metrics,
    policy,
    corsOrigins: config.corsOrigins,
    readiness: [
      { name: 'postgresql', check: async () => (await db.$queryRaw`SELECT 1`, { ok: true, detail: 'reachable' }) },
      { name: 'temporal', check: () => temporal.check() },
      { name: 'sandbox', check: async () => { const r = await engine.check(); return { ok: r.ok, detail: `${engine.name}: ${r.detail}` }; } },
    ],
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  log.info({ url }, 'API listening');
  return {
    server,
    url,
    async stop() {
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
      await client.connection.close();
      await db.$disconnect();
    },
  };
}

/** Runs `stop` once on SIGINT/SIGTERM, then exits. */
export function stopOnSignals(stop: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
