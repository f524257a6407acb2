/**
 * Assembles the two processes from configuration: the API (Hono on Node) and the worker
 * (Temporal worker with the activities). `start` runs both in one process; `api` and `worker`
 * run one each, for deployments.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { assembleApi } from '../api/assemble';
import type { Config } from '../config/config';
import { createDb, createPool, type Db } from '../db/client';
import { EvaluationStore } from '../db/evaluations';
import type { Logger } from '../logging/logger';
import type { Metrics } from '../metrics/metrics';
import { createEngine, createLanguageRegistry, LanguageCatalog } from '../sandbox';
import { RemoteSandboxEngine } from '../sandbox/remote/remote-engine';
import { scanSubmission } from '../scanner';
import type { ScanPolicy } from '../scanner/decide';
import { connectClient } from '../temporal/connection';
import { installTemporalRuntime } from '../temporal/runtime';
import type { ConnectionSecurity } from '../temporal/connection-security';
import { connectWorker, createEvaluationWorker } from '../temporal/worker';
import { TemporalGateway } from '../temporal/gateway';
import { ensureReconcileSchedule } from '../temporal/reconcile-schedule';
import { Reconciler } from '../reconciler/reconciler';
import { bundleInChildProcess, prebuiltWorkflowBundle } from './workflow-bundle';
import { clientInterceptors, workerObservability } from '../tracing/interceptors';
import type { Tracing } from '../tracing/tracing';
import { backlogSource, inFlightSource } from './gauges';

export interface Endpoints {
  databaseUrl: string;
  temporalAddress: string;
  /** TLS/mTLS/API key for a secured cluster; empty for the embedded dev server. */
  temporalSecurity?: ConnectionSecurity;
}

/** Everything read and validated at start-up, before any connection is made. */
export interface Settings {
  config: Config;
  policy: ScanPolicy;
}

export interface Running {
  stop(): Promise<void>;
}

export async function startWorker(
  { config, policy }: Settings,
  endpoints: Endpoints,
  log: Logger,
  metrics: Metrics,
  tracing?: Tracing,
): Promise<Running & { worker: Worker }> {
  installTemporalRuntime(log, undefined, config.temporalMetricsBindAddress);
  // Served by a small child process (at this process's priority): a spawn from the worker, hundreds
  // of MB, would block its event loop for tens of ms per sandbox (see src/sandbox/README.md).
  const engine = new RemoteSandboxEngine({
    engine: config.engine,
    allowProcessEngine: config.allowProcessEngine,
    settings: config.sandbox,
  });
  const engineCheck = await engine.check();
  if (!engineCheck.ok)
    log.warn(
      { engine: engine.name, detail: engineCheck.detail },
      'sandbox engine self-check failed; executions will be retried until it works',
    );

  const db = createDb(endpoints.databaseUrl);
  const store = new EvaluationStore(db);
  const connection = await connectWorker(endpoints.temporalAddress, endpoints.temporalSecurity);
  // The reconciler reads runs and may start stranded ones, through an ordinary client.
  const client = await connectClient({
    address: endpoints.temporalAddress,
    namespace: config.temporal.namespace,
    security: endpoints.temporalSecurity,
  });
  const reconciler = new Reconciler({
    store,
    temporal: new TemporalGateway(client, config.temporal.taskQueue),
    log: log.child({ component: 'reconciler' }),
    reviewTimeout: config.reviewTimeout,
    publicUrl: config.publicUrl,
  });
  // Its workflow interceptors must match the tracing setting (see workflow-bundle.ts).
  const prebuilt = prebuiltWorkflowBundle(undefined, { tracing: tracing !== undefined });
  // From source: bundled by a child process, so webpack's memory leaves with it.
  const bundledAtStart = prebuilt ? undefined : await bundleInChildProcess({ tracing: tracing !== undefined });
  const workflowBundle = { codePath: (prebuilt ?? bundledAtStart)!.codePath };
  const worker = await createEvaluationWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    activities: createActivities({
      store,
      engine,
      policy,
      log,
      metrics,
      reconciler,
      webhooks: { db, ...config.webhooks },
      scan: (submission) => scanSubmission(submission, { pythonPath: config.scannerPython }),
    }),
    maxConcurrentExecutions: config.workerConcurrency,
    maxCachedWorkflows: config.workerMaxCachedWorkflows,
    shutdownGraceSeconds: config.workerShutdownGraceSeconds,
    // From a production build: the bundle it made, so no webpack at start. From source: none.
    workflowBundle,
    ...workerObservability(metrics, log, tracing, { prebuiltBundle: true }),
  });
  const running = worker.run();
  await ensureReconcileSchedule(client, config.temporal.taskQueue, config.reconcileIntervalSeconds);
  log.info(
    {
      taskQueue: config.temporal.taskQueue,
      engine: engine.name,
      sandboxHostPid: engine.hostPid,
      reconcileEverySeconds: config.reconcileIntervalSeconds,
      workflowBundle: prebuilt ? prebuilt.codePath : 'bundled from source at start, by a child process',
    },
    'worker started',
  );
  return {
    worker,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      // The activities are done: nothing runs in the sandbox host any more.
      await engine.close();
      bundledAtStart?.remove();
      await connection.close();
      await client.connection.close();
      await db.$disconnect();
    },
  };
}

/** How long a stopping API waits for the workflow starts still carrying on after their 202. */
const STARTS_DRAIN_MS = 10_000;

export async function startApi(
  { config, policy }: Settings,
  endpoints: Endpoints,
  log: Logger,
  metrics: Metrics,
  tracing?: Tracing,
): Promise<Running & { server: ServerType; url: string; drainAndStop(): Promise<void> }> {
  // The API runs no code, but /readyz says whether the configured engine works on this machine.
  const engine = createEngine({ engine: config.engine, allowProcessEngine: config.allowProcessEngine, settings: config.sandbox });
  const db: Db = createDb(endpoints.databaseUrl);
  // The rate limiter takes a plain `pg` pool; same database, so every API process shares the budgets.
  const rateLimitPool = createPool(endpoints.databaseUrl, {
    onIdleError: (err) => log.warn({ err }, 'an idle PostgreSQL connection of the rate limiter failed; it is replaced on the next request'),
  });
  const client = await connectClient({
    address: endpoints.temporalAddress,
    namespace: config.temporal.namespace,
    security: endpoints.temporalSecurity,
    interceptors: clientInterceptors(tracing),
  });
  metrics.setGaugeSources({
    inFlight: inFlightSource(db),
    backlog: backlogSource(client, config.temporal.namespace, config.temporal.taskQueue),
  });
  const shutdown = { draining: false };
  const { app, starter } = assembleApi({
    shutdown,
    db,
    client,
    taskQueue: config.temporal.taskQueue,
    policy,
    log,
    metrics,
    reviewTimeout: config.reviewTimeout,
    publicUrl: config.publicUrl,
    authDisabled: config.authDisabled,
    rateLimitPerMinute: config.rateLimitPerMinute,
    rateLimitPool,
    maxInFlight: config.maxInFlight,
    webhooks: { enabled: config.webhooks.secret !== undefined, allowPrivate: config.webhooks.allowPrivate },
    corsOrigins: config.corsOrigins,
    // Probed once, now: a language whose toolchain is missing is listed as unavailable and refused.
    languages: new LanguageCatalog(createLanguageRegistry(config.sandbox)),
    extraReadiness: [
      {
        name: 'sandbox',
        check: async () => {
          const r = await engine.check();
          return { ok: r.ok, detail: `${engine.name}: ${r.detail}` };
        },
      },
    ],
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  log.info({ url }, 'API listening');
  const stop = async () => {
    // close() waits for requests in flight; idle keep-alive connections would hold it open.
    const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
    await closed;
    // Starts that carry on after their POST's 202 finish first; any left are the reconciler's.
    await starter.drain(STARTS_DRAIN_MS);
    await client.connection.close();
    await rateLimitPool.end();
    await db.$disconnect();
  };
  return {
    server,
    url,
    stop,
    /**
     * A deploy's SIGTERM: /readyz fails and new requests get 503 with Retry-After at once, so a
     * load balancer stops sending; requests already in flight finish; after API_DRAIN_SECONDS
     * the listener closes.
     */
    async drainAndStop() {
      shutdown.draining = true;
      log.info({ drainSeconds: config.apiDrainSeconds }, 'API draining: refusing new work');
      await new Promise((resolve) => setTimeout(resolve, config.apiDrainSeconds * 1000));
      await stop();
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
