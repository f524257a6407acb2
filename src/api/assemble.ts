/**
 * Wires the API's collaborators from a database client and a Temporal client. Used by the `api`
 * process and by the integration tests, so both run the same application.
 */
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { ApiKeyStore } from './auth/api-keys';
import type { Db } from '../db/client';
import { EvaluationStore } from '../db/evaluations';
import { TestSetStore } from '../db/test-sets';
import type { Logger } from '../logging/logger';
import type { Metrics } from '../metrics/metrics';
import type { ScanPolicy } from '../scanner/decide';
import { TemporalGateway } from '../temporal/gateway';
import { Reconciler } from '../reconciler/reconciler';
import { requestLimits } from './ratelimit';
import { createApp, type ShutdownState } from './app';
import type { ReadinessCheck } from './routes/health';
import { Submissions } from './submissions';
import { WorkflowStarter } from './workflow-starter';
import { defaultLanguageCatalog, type LanguageCatalog } from '../sandbox';

export interface ApiAssembly {
  db: Db;
  client: Client;
  taskQueue: string;
  policy: ScanPolicy;
  log: Logger;
  metrics: Metrics;
  reviewTimeout: string;
  /** Base URL of the API as operators reach it, for links on a run's page in the Web UI. */
  publicUrl?: string;
  authDisabled: boolean;
  rateLimitPerMinute: number;
  /** A `pg` pool on the same database as `db`, where the rate-limit counters are kept. */
  rateLimitPool: Pool;
  /**
   * Apps share rate-limit budgets exactly when they share the database and this prefix; default
   * DEFAULT_BUDGET_PREFIX, which every API process of a deployment uses.
   */
  rateLimitKeyPrefix?: string;
  maxInFlight: { perTenant: number; total: number };
  webhooks: { enabled: boolean; allowPrivate: boolean };
  corsOrigins?: string[];
  extraReadiness?: ReadinessCheck[];
  /** The languages and their toolchains' availability; default the registry with Debian's toolchains, probed now. */
  languages?: LanguageCatalog;
  /** Flipped by the process on SIGTERM (see src/main/runtime.ts). */
  shutdown?: ShutdownState;
}

export function assembleApi(a: ApiAssembly) {
  const store = new EvaluationStore(a.db);
  const temporal = new TemporalGateway(a.client, a.taskQueue);
  const keys = new ApiKeyStore(a.db);
  const reconciler = new Reconciler({ store, temporal, log: a.log, reviewTimeout: a.reviewTimeout, publicUrl: a.publicUrl });
  const languages = a.languages ?? defaultLanguageCatalog();
  const starter = new WorkflowStarter({ log: a.log });
  const app = createApp({
    languages,
    store,
    temporal,
    keys,
    reconciler,
    testSets: new TestSetStore(a.db),
    submissions: new Submissions({
      store,
      temporal,
      starter,
      reviewTimeout: a.reviewTimeout,
      publicUrl: a.publicUrl,
      webhooks: a.webhooks,
      maxInFlight: a.maxInFlight,
      languages,
    }),
    log: a.log,
    metrics: a.metrics,
    policy: a.policy,
    authDisabled: a.authDisabled,
    rateLimits: requestLimits({ pool: a.rateLimitPool, perMinute: a.rateLimitPerMinute, keyPrefix: a.rateLimitKeyPrefix }),
    corsOrigins: a.corsOrigins,
    shutdown: a.shutdown,
    readiness: [
      {
        name: 'accepting',
        check: async () =>
          a.shutdown?.draining
            ? { ok: false, detail: 'shutting down: take this process out of rotation' }
            : { ok: true, detail: 'accepting requests' },
      },
      { name: 'postgresql', check: async () => (await a.db.$queryRaw`SELECT 1`, { ok: true, detail: 'reachable' }) },
      { name: 'temporal', check: () => temporal.check() },
      ...(a.extraReadiness ?? []),
    ],
  });
  return { app, store, temporal, keys, starter };
}
