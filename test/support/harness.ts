/**
 * Builds the real service pieces for integration tests: a worker with the real activities
 * (real scanner, real sandbox, real PostgreSQL) and the Hono app with a real Temporal client.
 * Each test file gets its own task queue so files never pick up each other's workflows.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { workflowBundle } from './workflow-bundle';
import { createActivities } from '../../src/activities';
import { loadConfig } from '../../src/config/config';
import { assembleApi } from '../../src/api/assemble';
import type { ApiKeyStore } from '../../src/api/auth/api-keys';
import { createDb, createPool, type Db } from '../../src/db/client';
import { EvaluationStore } from '../../src/db/evaluations';
import { createLogger } from '../../src/logging/logger';
import { Metrics } from '../../src/metrics/metrics';
import { createEngine } from '../../src/sandbox';
import { hostProcessesWhere } from '../../src/sandbox/host/processes';
import type { SandboxEngine } from '../../src/sandbox/engine';
import { scanSubmission } from '../../src/scanner';
import type { ScanPolicy } from '../../src/scanner/decide';
import { loadPolicy } from '../../src/scanner/policy';
import { createEvaluationWorker } from '../../src/temporal/worker';
import { TemporalGateway } from '../../src/temporal/gateway';
import { ensureReconcileSchedule, reconcileScheduleId } from '../../src/temporal/reconcile-schedule';
import { Reconciler } from '../../src/reconciler/reconciler';
import { applyMigrations } from '../../src/db/migrate';
import { Client as PgClient, type Pool } from 'pg';

export const databaseUrl = () => required('TEST_DATABASE_URL');
export const temporalAddress = () => required('TEST_TEMPORAL_ADDRESS');

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through jest's global setup (npm test)`);
  return value;
}

export interface TestWorkerOptions {
  taskQueue: string;
  databaseUrl?: string;
  policy?: ScanPolicy;
  engine?: SandboxEngine;
  log?: import('../../src/logging/logger').Logger;
  metrics?: Metrics;
  webhookSecret?: string;
  /** Run the reconciler on a schedule of this interval (off unless asked: it acts on the whole database). */
  reconcileEverySeconds?: number;
  reviewTimeout?: string;
}

export interface TestWorker {
  worker: Worker;
  db: Db;
  stop(): Promise<void>;
}

export async function startTestWorker(options: TestWorkerOptions): Promise<TestWorker> {
  const db = createDb(options.databaseUrl ?? databaseUrl(), { maxConnections: 4 });
  const store = new EvaluationStore(db);
  const connection = await NativeConnection.connect({ address: temporalAddress() });
  // The reconciler acts on the whole database, so only workers that ask for it get one.
  const reconciling = options.reconcileEverySeconds !== undefined;
  const client = reconciling
    ? new Client({ connection: await Connection.connect({ address: temporalAddress() }), namespace: 'default' })
    : undefined;
  const reconciler = client
    ? new Reconciler({
        store,
        temporal: new TemporalGateway(client, options.taskQueue),
        log: options.log ?? createLogger('silent'),
        reviewTimeout: options.reviewTimeout ?? '1h',
        quietForMs: 500,
        strandedAfterMs: 3000,
      })
    : undefined;
  const worker = await createEvaluationWorker({
    connection,
    namespace: 'default',
    taskQueue: options.taskQueue,
    workflowBundle: await workflowBundle(),
    // The service's default, so the integration tests run the worker as shipped.
    maxConcurrentExecutions: loadConfig({}).workerConcurrency,
    activities: createActivities({
      store,
      engine: options.engine ?? createEngine({ engine: 'bwrap' }),
      policy: options.policy ?? loadPolicy(undefined),
      scan: (submission) => scanSubmission(submission),
      log: options.log ?? createLogger('silent'),
      metrics: options.metrics ?? new Metrics({ defaultMetrics: false }),
      webhooks: { db, secret: options.webhookSecret, allowPrivate: true, timeoutMs: 5000 },
      reconciler,
    }),
  });
  const running = worker.run();
  if (client) await ensureReconcileSchedule(client, options.taskQueue, options.reconcileEverySeconds!);
  return {
    worker,
    db,
    async stop() {
      if (client) await client.schedule.getHandle(reconcileScheduleId(options.taskQueue)).delete();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
      await client?.connection.close();
      await db.$disconnect();
    },
  };
}

export interface TestApi {
  request(path: string, init?: RequestInit): Promise<Response>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  client: Client;
  db: Db;
  /** The `pg` pool the app's rate limiter counts in (same database as `db`). */
  rateLimitPool: Pool;
  store: EvaluationStore;
  close(): Promise<void>;
}

export interface TestApiOptions {
  /** Another database than the run's shared one (see createTestDatabase). */
  databaseUrl?: string;
  reviewTimeout?: string;
  webhooks?: boolean;
  /** Tests of the pipeline itself run without keys; auth tests turn it on. */
  authDisabled?: boolean;
  rateLimitPerMinute?: number;
  /**
   * Apps given the same prefix share their rate-limit budgets, as the API processes of one
   * deployment do. Default: a prefix of this app's own, so apps (and test files) running at the
   * same time on the shared database never spend each other's budgets.
   */
  rateLimitKeyPrefix?: string;
  maxInFlight?: { perTenant: number; total: number };
  /** Another address for the API's Temporal client than the shared server's (a proxy, say). */
  temporalAddress?: string;
}

export async function startTestApi(taskQueue: string, options: TestApiOptions = {}): Promise<TestApi & { keys: ApiKeyStore }> {
  const db = createDb(options.databaseUrl ?? databaseUrl(), { maxConnections: 4 });
  const log = createLogger('silent');
  const rateLimitPool = createPool(options.databaseUrl ?? databaseUrl(), {
    onIdleError: (err) => log.warn({ err }, 'an idle connection of the rate limiter failed'),
  });
  const connection = await Connection.connect({ address: options.temporalAddress ?? temporalAddress() });
  const client = new Client({ connection, namespace: 'default' });
  const { app, store, keys } = assembleApi({
    db,
    client,
    taskQueue,
    policy: loadPolicy(undefined),
    log,
    metrics: new Metrics({ defaultMetrics: false }),
    reviewTimeout: options.reviewTimeout ?? '1h',
    authDisabled: options.authDisabled ?? true,
    rateLimitPerMinute: options.rateLimitPerMinute ?? 100000,
    rateLimitPool,
    rateLimitKeyPrefix: options.rateLimitKeyPrefix ?? `test-${randomUUID()}`,
    maxInFlight: options.maxInFlight ?? { perTenant: 1000, total: 10000 },
    webhooks: { enabled: options.webhooks ?? false, allowPrivate: true },
  });
  const request = async (path: string, init?: RequestInit) => app.request(path, init);
  return {
    request,
    post: (path, body, headers = {}) =>
      request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }),
    client,
    db,
    rateLimitPool,
    store,
    keys,
    async close() {
      await connection.close();
      await rateLimitPool.end();
      await db.$disconnect();
    },
  };
}

export const uniqueQueue = (name: string) => `test-${name}-${randomUUID().slice(0, 8)}`;

/** Polls until `probe` returns a value that is not undefined, or fails at the deadline. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
}

/** Waits until an evaluation reaches a terminal status and returns its API body. */
export async function waitForTerminal(api: TestApi, id: string, timeoutMs = 30000): Promise<any> {
  return waitFor(
    async () => {
      const res = await api.request(`/v1/evaluations/${id}`);
      const body: any = await res.json();
      return ['completed', 'blocked', 'rejected', 'cancelled', 'failed'].includes(body.status) ? body : undefined;
    },
    `evaluation ${id} to finish`,
    timeoutMs,
  );
}

/**
 * Activity types run by a workflow, in order: those scheduled through the server and, with
 * `{ local: true }`, the local activities recorded as markers too.
 */
/**
 * Resolves once the evaluation's workflow has closed. The stored result is written by a local
 * activity inside the last workflow task, so PostgreSQL shows it a moment before the history has
 * that task (its markers, its last search-attribute upsert) and the run is closed.
 */
export async function waitForWorkflowClosed(client: Client, evaluationId: string): Promise<void> {
  const handle = client.workflow.getHandle(`evaluation-${evaluationId}`);
  await waitFor(
    async () => ((await handle.describe()).status.name === 'RUNNING' ? undefined : true),
    `the workflow of ${evaluationId} to close`,
  );
}

export async function scheduledActivities(client: Client, evaluationId: string, { local = false } = {}): Promise<string[]> {
  const history = await client.workflow.getHandle(`evaluation-${evaluationId}`).fetchHistory();
  return (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? (local ? localActivityType(e) : undefined))
    .filter((n): n is string => typeof n === 'string');
}

/** The activity type of a local activity's marker (the SDK's core records it in the marker's `data`). */
function localActivityType(event: {
  markerRecordedEventAttributes?: { markerName?: string | null; details?: any } | null;
}): string | undefined {
  const marker = event.markerRecordedEventAttributes;
  if (marker?.markerName !== 'core_local_activity') return undefined;
  const data = marker.details?.data?.payloads?.[0]?.data;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string }).activity_type : undefined;
}

/** PIDs of sandbox processes (bwrap and the launcher) still alive on this machine. */
export function sandboxProcesses(): number[] {
  return hostProcessesWhere((cmdline) => /(^|\/)bwrap\0/.test(cmdline));
}

/**
 * The usual setup of an end-to-end test file: an API and a worker on a task queue of its own,
 * started before the file's tests and stopped after them.
 */
export function useTestService(
  name: string,
  onReady: (service: { api: Awaited<ReturnType<typeof startTestApi>>; worker: TestWorker; queue: string }) => void,
  options: { api?: TestApiOptions; worker?: Omit<TestWorkerOptions, 'taskQueue'> } = {},
): void {
  const queue = uniqueQueue(name);
  let api: Awaited<ReturnType<typeof startTestApi>> | undefined;
  let worker: TestWorker | undefined;
  beforeAll(async () => {
    api = await startTestApi(queue, options.api);
    worker = await startTestWorker({ taskQueue: queue, ...options.worker });
    onReady({ api, worker, queue });
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.close();
  });
}

/**
 * A fresh, migrated database of its own, for a test file whose subject acts on every row (the
 * reconciler), so it neither sees nor touches the rows of other files. Dropped by `drop()`.
 */
export async function createTestDatabase(name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const shared = new URL(databaseUrl());
  const database = `${shared.pathname.slice(1)}_${name}`.replace(/[^a-z0-9_]/gi, '_').toLowerCase();
  const admin = new URL(shared);
  admin.pathname = '/postgres';
  const run = async (sql: string) => {
    const pg = new PgClient({ connectionString: admin.toString() });
    await pg.connect();
    try {
      await pg.query(sql);
    } finally {
      await pg.end();
    }
  };
  await run(`CREATE DATABASE ${database}`);
  const url = new URL(shared);
  url.pathname = `/${database}`;
  await applyMigrations(url.toString());
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`) };
}
