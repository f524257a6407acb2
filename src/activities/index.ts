/** All activities of the evaluation workflow, wired to their dependencies. */
import type { EvaluationStore } from '../db/evaluations';
import type { Language } from '../domain/evaluation';
import type { Logger } from '../logging/logger';
import type { Metrics } from '../metrics/metrics';
import type { SandboxEngine } from '../sandbox/engine';
import type { ScanPolicy } from '../scanner/decide';
import type { ScanReport, ScannedSubmission } from '../scanner/index';
import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../db/client';
import { WEBHOOK_REJECTED } from '../workflows/webhook-retry';
import { makeDeliverWebhook } from './deliver-webhook';
import { makeExecute } from './execute';
import { makePrepareBundle } from './prepare-bundle';
import { makeRunCase } from './run-case';
import { BuiltPrograms } from './built-programs';
import { BuildStore } from '../db/builds';
import { CaseResultStore } from '../db/case-results';
import { createLanguageRegistry, runtimeFor } from '../sandbox/languages';
import type { Limits } from '../domain/evaluation';
import { makePersistResults } from './persist-results';
import { makeRecordTransition } from './record-transition';
import { makeSecurityScan } from './security-scan';
import { makeReconcileEvaluations } from './reconcile-evaluations';
import type { Reconciler } from '../reconciler/reconciler';
import type { ReconcileActivities } from '../workflows/reconcile-activities';
import type { EvaluationActivities } from '../workflows/activities';

export interface ActivityDeps {
  store: EvaluationStore;
  engine: SandboxEngine;
  policy: ScanPolicy;
  scan: (submission: ScannedSubmission) => Promise<ScanReport>;
  log: Logger;
  metrics: Metrics;
  /** Webhook delivery; without a secret the API refuses callbackUrl, so nothing should ask for it. */
  webhooks: { db: Db; secret?: string; allowPrivate: boolean; timeoutMs: number };
  /** The reconciler behind the reconcile schedule; workers without one refuse its activity. */
  reconciler?: Reconciler;
  /** A language's default limits (a custom checker runs under them); default: the language table's. */
  defaultLimits?: (language: Language) => Limits;
}

export function createActivities(deps: ActivityDeps): EvaluationActivities & ReconcileActivities {
  const { reconciler } = deps;
  const db = deps.store.db;
  const builds = new BuiltPrograms(new BuildStore(db));
  const languages = createLanguageRegistry();
  const bundles = {
    ...deps,
    db,
    builds,
    caseResults: new CaseResultStore(db),
    defaultLimits: deps.defaultLimits ?? ((language: Language) => runtimeFor(languages, language).defaultLimits),
  };
  return {
    reconcileEvaluations: reconciler
      ? makeReconcileEvaluations({ reconciler })
      : async () => {
          throw ApplicationFailure.nonRetryable('this worker has no reconciler configured', 'ReconcilerUnavailable');
        },
    recordTransition: makeRecordTransition(deps),
    securityScan: makeSecurityScan(deps),
    execute: makeExecute(deps),
    prepareBundle: makePrepareBundle(bundles),
    runCase: makeRunCase(bundles),
    persistResults: makePersistResults(deps),
    deliverWebhook: deps.webhooks.secret
      ? makeDeliverWebhook({ ...deps.webhooks, secret: deps.webhooks.secret })
      : async () => {
          throw ApplicationFailure.nonRetryable('webhooks are not configured on this worker (WEBHOOK_SECRET is unset)', WEBHOOK_REJECTED);
        },
  };
}
