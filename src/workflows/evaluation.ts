/**
 * evaluationWorkflow: securityScan -> (review) -> execute -> persistResults. Deterministic: all
 * I/O happens in activities, and every write carries a key chosen here, so retries are harmless.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ActivityCancellationType,
  condition,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { EvaluationActivities, LifecycleEventInput, OutcomeInput } from '../activities/types';
import type { EvaluationStatus, EventType, Verdict } from '../domain/evaluation';
import { EvaluationStatusKey, EvaluationVerdictKey } from '../temporal/search-attributes';
import { WEBHOOK_ACTIVITY_OPTIONS } from '../webhooks/retry-policy';
import { log } from '@temporalio/workflow';
import {
  approveSignal,
  rejectSignal,
  statusQuery,
  type EvaluationState,
  type EvaluationWorkflowInput,
  type EvaluationWorkflowResult,
  type ReviewDecision,
} from './definitions';

// Writes must land whatever PostgreSQL is doing: retry forever, backoff capped.
const persistRetry = { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' } as const;

const { persistResults } = proxyActivities<EvaluationActivities>({ startToCloseTimeout: '30 seconds', retry: persistRetry });

// Status changes between the main steps are small idempotent writes: as local activities they
// run in this worker without a round trip through the Temporal server per write.
const { recordTransition } = proxyLocalActivities<EvaluationActivities>({ startToCloseTimeout: '30 seconds', retry: persistRetry });

const { securityScan } = proxyActivities<EvaluationActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5, nonRetryableErrorTypes: ['EvaluationNotFound'] },
});

// The sandbox kills the program at its wall-time limit (300 s at most); the rest is margin.
// Heartbeats let a dead worker's attempt be retried within seconds, and carry cancellation.
const { execute } = proxyActivities<EvaluationActivities>({
  startToCloseTimeout: '6 minutes',
  heartbeatTimeout: '5 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 3, nonRetryableErrorTypes: ['EvaluationNotFound'] },
});

const { deliverWebhook } = proxyActivities<EvaluationActivities>(WEBHOOK_ACTIVITY_OPTIONS);

export async function evaluationWorkflow(input: EvaluationWorkflowInput): Promise<EvaluationWorkflowResult> {
  const { evaluationId } = input;
  const state: EvaluationState = { evaluationId, status: 'queued', findings: [] };
  let review: { approved: boolean; decision: ReviewDecision } | undefined;

  setHandler(statusQuery, () => state);
  setHandler(approveSignal, (decision) => {
    if (state.status === 'awaiting_review' && !review) review = { approved: true, decision: decision ?? {} };
  });
  setHandler(rejectSignal, (decision) => {
    if (state.status === 'awaiting_review' && !review) review = { approved: false, decision: decision ?? {} };
  });

  const now = () => new Date().toISOString();
  const event = (type: EventType, dedupeKey: string, data?: Record<string, unknown>): LifecycleEventInput => ({
    type,
    dedupeKey,
    at: now(),
    data,
  });
  const moveTo = async (status: EvaluationStatus, extra: Omit<Parameters<typeof recordTransition>[0], 'evaluationId' | 'status' | 'at'> = {}) => {
    state.status = status;
    upsertSearchAttributes([{ key: EvaluationStatusKey, value: status }]);
    await recordTransition({ evaluationId, status, at: now(), ...extra });
  };
  const finish = async (outcome: Omit<OutcomeInput, 'evaluationId' | 'at'>): Promise<EvaluationWorkflowResult> => {
    state.status = outcome.status;
    state.verdict = outcome.verdict;
    upsertSearchAttributes([
      { key: EvaluationStatusKey, value: outcome.status },
      ...(outcome.verdict ? [{ key: EvaluationVerdictKey, value: outcome.verdict as Verdict }] : []),
    ]);
    await persistResults({ evaluationId, at: now(), ...outcome });
    if (input.callback) {
      try {
        await deliverWebhook({ evaluationId });
      } catch (err) {
        // The result is stored and final; a receiver that never answers does not change it.
        log.warn('webhook delivery failed for good', { evaluationId, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return { status: outcome.status, verdict: outcome.verdict };
  };

  try {
    await moveTo('scanning');
    const scan = await securityScan({ evaluationId });
    state.findings = scan.findings;
    const scanSummary = { action: scan.action, findings: scan.findings.length, reasons: scan.reasons };

    if (scan.action === 'block') {
      await moveTo('scanning', { findings: scan.findings, event: event('SCAN_COMPLETED', 'scan', scanSummary) });
      return await finish({
        status: 'blocked',
        findings: scan.findings,
        event: event('SECURITY_VIOLATION', 'violation', { ruleIds: scan.findings.map((f) => f.ruleId), reasons: scan.reasons }),
      });
    }

    if (scan.action === 'review') {
      await moveTo('scanning', { findings: scan.findings, event: event('SCAN_COMPLETED', 'scan', scanSummary) });
      // The stored status says awaiting_review only once REVIEW_REQUESTED is stored with it.
      await moveTo('awaiting_review', { event: event('REVIEW_REQUESTED', 'review-requested', { timeout: input.reviewTimeout }) });
      const answered = await condition(() => review !== undefined, input.reviewTimeout as `${number}h`);
      if (!answered || !review?.approved) {
        const reason = answered ? (review?.decision.reason ?? 'rejected by reviewer') : `no review decision within ${input.reviewTimeout}`;
        return await finish({
          status: 'rejected',
          error: reason,
          event: event('REVIEW_REJECTED', 'review-rejected', { reason, by: review?.decision.by ?? null, timedOut: !answered }),
        });
      }
      await recordTransition({
        evaluationId,
        status: 'awaiting_review',
        at: now(),
        event: event('REVIEW_APPROVED', 'review-approved', { reason: review.decision.reason ?? null, by: review.decision.by ?? null }),
      });
    } else {
      await moveTo('scanning', { findings: scan.findings, event: event('SCAN_COMPLETED', 'scan', scanSummary) });
    }

    const startedAt = now();
    await moveTo('running', { startedAt, event: { type: 'EXECUTION_STARTED', dedupeKey: 'execution-started', at: startedAt } });
    const run = await execute({ evaluationId });
    return await finish({
      status: 'completed',
      verdict: run.verdict,
      execution: run.execution,
      output: run.output,
      event: event('EVALUATION_COMPLETED', 'completed', { verdict: run.verdict, limitHit: run.limitHit }),
    });
  } catch (err) {
    if (isCancellation(err)) {
      // Cleanup must run even though the workflow's own scope is cancelled.
      await CancellationScope.nonCancellable(() =>
        finish({ status: 'cancelled', event: event('EVALUATION_CANCELLED', 'cancelled') }),
      );
      throw err;
    }
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'EvaluationNotFound') {
      throw ApplicationFailure.nonRetryable(`evaluation ${evaluationId} no longer exists`, 'EvaluationNotFound');
    }
    const message = describeFailure(err);
    await CancellationScope.nonCancellable(() =>
      finish({ status: 'failed', error: message, event: event('EVALUATION_FAILED', 'failed', { error: message }) }),
    );
    throw ApplicationFailure.nonRetryable(`evaluation failed: ${message}`, 'EvaluationFailed');
  }
}

function describeFailure(err: unknown): string {
  if (err instanceof ActivityFailure) {
    const cause = err.cause?.message ? `: ${err.cause.message}` : '';
    return `${err.activityType ?? 'activity'} failed after retries${cause}`;
  }
  return err instanceof Error ? err.message : String(err);
}
