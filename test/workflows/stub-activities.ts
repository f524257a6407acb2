/**
 * In-memory stand-ins for the evaluation activities: each records every call (one entry per
 * attempt, so retries are countable) and then does what the test asked, or the happy path.
 * They let the workflow tests pin down the workflow's decisions without PostgreSQL or a sandbox.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { EvaluationActivities, ExecuteOutcome, ScanAction, ScanOutcome } from '../../src/workflows/activities';
import type { ReconcileActivities } from '../../src/workflows/reconcile-activities';
import type { Finding } from '../../src/domain/evaluation';

type ActivityName = keyof EvaluationActivities;

/** The input of every attempt of every activity, in call order per activity. */
export type Calls = { [K in ActivityName]: Parameters<EvaluationActivities[K]>[0][] };

export const FINDING: Finding = { ruleId: 'py.import.os', severity: 'high', message: 'imports os', line: 1, column: 0 };

export function scanOutcome(action: ScanAction, findings: Finding[] = action === 'allow' ? [] : [FINDING]): ScanOutcome {
  return {
    findings,
    findingCount: findings.length,
    findingsStored: false,
    excerpts: [],
    syntaxError: null,
    action,
    reasons: action === 'allow' ? [] : findings.map((f) => `${f.ruleId}: ${f.message}`),
  };
}

export const ACCEPTED_RUN: ExecuteOutcome = {
  verdict: 'accepted',
  limitHit: null,
  execution: {
    exitCode: 0,
    signal: null,
    timeMs: 12,
    cpuTimeMs: 10,
    memoryKb: 2048,
    stdoutTruncated: false,
    stderrTruncated: false,
    engine: 'process',
  },
  output: { kind: 'stored', outputId: 'output-1', preview: { stdout: 'ok\n', stderr: '', stdoutBytes: 3, stderrBytes: 0 } },
};

const HAPPY_PATH: EvaluationActivities = {
  recordTransition: async () => undefined,
  // As the real activity: with `transitions` it starts the allowed run itself and says when.
  securityScan: async (input) => ({ ...scanOutcome('allow'), ...(input.transitions ? { startedAt: new Date().toISOString() } : {}) }),
  execute: async () => ACCEPTED_RUN,
  prepareBundle: async () => ({ weights: [1, 1, 1], mode: 'all', parallelism: 2 }),
  runCase: async ({ position }) => ({ position, status: 'completed', verdict: 'accepted', score: 1, timeMs: 5, error: null }),
  persistResults: async () => undefined,
  deliverWebhook: async () => ({ delivered: true, attempts: 1 }),
};

export function stubActivities(behaviour: Partial<EvaluationActivities> = {}): {
  activities: EvaluationActivities & ReconcileActivities;
  calls: Calls;
} {
  const calls: Calls = {
    recordTransition: [],
    securityScan: [],
    execute: [],
    prepareBundle: [],
    runCase: [],
    persistResults: [],
    deliverWebhook: [],
  };
  const impl: EvaluationActivities = { ...HAPPY_PATH, ...behaviour };
  const recorded = <K extends ActivityName>(name: K): EvaluationActivities[K] => {
    const body = impl[name] as (input: Parameters<EvaluationActivities[K]>[0]) => Promise<unknown>;
    return (async (input: Parameters<EvaluationActivities[K]>[0]) => {
      calls[name].push(input);
      return body(input);
    }) as EvaluationActivities[K];
  };
  return {
    calls,
    activities: {
      recordTransition: recorded('recordTransition'),
      securityScan: recorded('securityScan'),
      execute: recorded('execute'),
      prepareBundle: recorded('prepareBundle'),
      runCase: recorded('runCase'),
      persistResults: recorded('persistResults'),
      deliverWebhook: recorded('deliverWebhook'),
      // The worker serves both workflow types; the reconcile workflow is not under test here.
      reconcileEvaluations: async () => {
        throw ApplicationFailure.nonRetryable('reconcileEvaluations is not stubbed in workflow tests');
      },
    },
  };
}

/** An activity body that fails its first `times` attempts with `failure()`, then does `then`. */
export function failingFirst<I, O>(times: number, failure: () => Error, then: (input: I) => Promise<O>): (input: I) => Promise<O> {
  let attempts = 0;
  return async (input) => {
    attempts += 1;
    if (attempts <= times) throw failure();
    return then(input);
  };
}

/**
 * Holds an activity open until the test calls `open()`. `passed()` is for use inside an activity:
 * it also gives up when the activity is cancelled, so a test that fails before opening the gate
 * cannot keep its worker from shutting down.
 */
export function gate(): { open(): void; passed(): Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, passed: () => Promise.race([opened, Context.current().cancelled]) };
}
