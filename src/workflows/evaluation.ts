/**
 * evaluationWorkflow: securityScan -> (review) -> execute -> persistResults. Deterministic: all
 * I/O happens in activities, and every write carries a key chosen here, so retries are harmless.
 *
 * Histories of earlier versions of this code are replayed in test/replay: a change that adds,
 * removes or reorders commands goes behind `patched()` (see docs/workflow-changes.md).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { msToNumber } from '@temporalio/common/lib/time';
import type {
  CaseSummary,
  EvaluationActivities,
  ExecuteOutcome,
  LifecycleEventInput,
  OutcomeInput,
  ReviewInputRecord,
  ScanOutcome,
} from './activities';
import { executionStartedEvent, scanCompletedEvent } from './activities';
import { SEVERITIES, type EvaluationStatus, type EventType, type Verdict } from '../domain/evaluation';
import { EvaluationRuleIdsKey, EvaluationSeverityKey, EvaluationStatusKey, EvaluationVerdictKey } from './search-attributes';
import { WEBHOOK_ACTIVITY_OPTIONS } from './webhook-retry';
import {
  EXECUTE_OPTIONS,
  FailureType,
  PERSIST_LOCAL_OPTIONS,
  PERSIST_OPTIONS,
  PREPARE_BUNDLE_OPTIONS,
  RUN_CASE_OPTIONS,
  SCAN_LOCAL_OPTIONS,
  SCAN_OPTIONS,
  TRANSITION_OPTIONS,
} from './config';
import { bundleDetails, finishedDetails, heldDetails, refusedDetails, runningDetails, scanningDetails } from './current-details';
import { bundleOutcome, shouldContinue, type CaseOutcome } from '../domain/test-cases';
import {
  approveSignal,
  approveUpdate,
  parseReviewInput,
  rejectSignal,
  rejectUpdate,
  statusQuery,
  type EvaluationState,
  type EvaluationWorkflowInput,
  type EvaluationWorkflowResult,
  type ReviewInput,
} from './definitions';

const { persistResults } = proxyActivities<EvaluationActivities>(PERSIST_OPTIONS);
const { persistResults: persistResultsLocally } = proxyLocalActivities<EvaluationActivities>(PERSIST_LOCAL_OPTIONS);

// Status changes between the main steps are small idempotent writes: as local activities they
// run in this worker without a round trip through the Temporal server per write.
const { recordTransition } = proxyLocalActivities<EvaluationActivities>(TRANSITION_OPTIONS);

const { securityScan } = proxyActivities<EvaluationActivities>(SCAN_OPTIONS);
const { securityScan: securityScanLocally } = proxyLocalActivities<EvaluationActivities>(SCAN_LOCAL_OPTIONS);

const { execute } = proxyActivities<EvaluationActivities>(EXECUTE_OPTIONS);

const { prepareBundle } = proxyActivities<EvaluationActivities>(PREPARE_BUNDLE_OPTIONS);

const { runCase } = proxyActivities<EvaluationActivities>(RUN_CASE_OPTIONS);

const { deliverWebhook } = proxyActivities<EvaluationActivities>({
  ...WEBHOOK_ACTIVITY_OPTIONS,
  summary: 'send the result to the callbackUrl',
});

type Review = { approved: boolean; reason: string | null; by: string };

/**
 * The patches of earlier changes, which a run started since `earlier-patches-folded` takes
 * without recording each (see docs/workflow-changes.md).
 */
type EarlierPatch = 'scan-search-attributes' | 'finish-settles-on-store' | 'persist-as-local-activity' | 'scan-in-first-task';
const EARLIER_PATCHES_FOLDED = 'earlier-patches-folded';
/** The scan's local activity writes the moves to `scanning` and (when allowed) `running` itself. */
const SCAN_IN_ONE_LOCAL_ACTIVITY = 'scan-in-one-local-activity';

export async function evaluationWorkflow(input: EvaluationWorkflowInput): Promise<EvaluationWorkflowResult> {
  const { evaluationId } = input;
  const state: EvaluationState = { evaluationId, status: 'queued', findings: [] };
  let review: Review | undefined;
  // Set once the decision is in PostgreSQL: an update returns only then.
  let reviewStored = false;
  // The SDK pairs every patch marker with an update of the `TemporalChangeVersion` search
  // attribute, a visibility write on the server: four per run until this patch. A run started on
  // this code records this patch alone and takes every earlier patch's branch; a run that started
  // before it replays through the earlier patches' own markers. Decided once, before any command.
  // A newer patch implies the fold: a run records the newest patch it was started under, only.
  const scanInOneLocalActivity = patched(SCAN_IN_ONE_LOCAL_ACTIVITY);
  const foldsEarlierPatches = scanInOneLocalActivity || patched(EARLIER_PATCHES_FOLDED);
  const hasPatch = (id: EarlierPatch) => foldsEarlierPatches || patched(id);

  // Typed refusals, so a caller can tell "not now" from "unreadable input".
  const reviewValidator = (decision?: ReviewInput) => {
    const refuse = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });
    if (state.status !== 'awaiting_review')
      throw refuse(FailureType.NotAwaitingReview, `evaluation ${evaluationId} is ${state.status}, not awaiting review`);
    if (review)
      throw refuse(
        FailureType.NotAwaitingReview,
        `evaluation ${evaluationId} was already ${review.approved ? 'approved' : 'rejected'} by ${review.by}`,
      );
    try {
      parseReviewInput(decision);
    } catch (err) {
      throw refuse(FailureType.InvalidReviewInput, (err as Error).message);
    }
  };
  const decide = (approved: boolean) => (decision?: ReviewInput) => {
    review = { approved, ...parseReviewInput(decision) };
  };
  const decideAndWait = (approved: boolean) => async (decision?: ReviewInput) => {
    decide(approved)(decision);
    await condition(() => reviewStored);
    return state;
  };
  const inputHelp = 'Input: a reason as a JSON string, e.g. "looks harmless", or {"reason": "...", "by": "your name"}.';

  setHandler(statusQuery, () => state, { description: 'Current stage, findings, verdict and review decision of the evaluation.' });
  setHandler(approveUpdate, decideAndWait(true), {
    validator: reviewValidator,
    description: `Approve a submission held for review: its code then runs. Refused unless it is awaiting review. ${inputHelp}`,
  });
  setHandler(rejectUpdate, decideAndWait(false), {
    validator: reviewValidator,
    description: `Reject a submission held for review: it ends rejected and never runs. Refused unless it is awaiting review. ${inputHelp}`,
  });
  // Signals do what the updates do; a signal that the validator would refuse is logged and dropped.
  for (const [signal, approved] of [
    [approveSignal, true],
    [rejectSignal, false],
  ] as const) {
    setHandler(
      signal,
      (decision?: ReviewInput) => {
        try {
          reviewValidator(decision);
        } catch (err) {
          log.warn('review signal ignored', { evaluationId, signal: signal.name, reason: (err as Error).message });
          return;
        }
        decide(approved)(decision);
      },
      { description: `Same as the ${signal.name} update, without an answer; prefer the update. ${inputHelp}` },
    );
  }

  const now = () => new Date().toISOString();
  const event = (type: EventType, dedupeKey: string, data?: Record<string, unknown>): LifecycleEventInput => ({
    type,
    dedupeKey,
    at: now(),
    data,
  });
  const moveTo = async (
    status: EvaluationStatus,
    extra: Omit<Parameters<typeof recordTransition>[0], 'evaluationId' | 'status' | 'at'> = {},
  ) => {
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
    // Once the result is stored the evaluation is over: a cancellation that arrives now must neither
    // race a `cancelled` write against this one nor turn the stored result into another. Runs that
    // started before this rule replay without it.
    const settlesOnStore = hasPatch('finish-settles-on-store');
    // Runs that started before the terminal write became a local activity replay with the activity.
    const store = hasPatch('persist-as-local-activity') ? persistResultsLocally : persistResults;
    const persist = () => store({ evaluationId, at: now(), ...outcome });
    await (settlesOnStore ? CancellationScope.nonCancellable(persist) : persist());
    reviewStored = true;
    setCurrentDetails(
      finishedDetails({
        status: outcome.status,
        verdict: outcome.verdict,
        error: outcome.error,
        exitCode: outcome.execution?.exitCode,
        timeMs: outcome.execution?.timeMs,
        preview: outcome.output?.preview,
      }),
    );
    if (input.callback) {
      try {
        await deliverWebhook({ evaluationId });
      } catch (err) {
        // The result is stored and final; a receiver that never answers does not change it.
        if (settlesOnStore && isCancellation(err))
          log.info('webhook delivery stopped: the run was cancelled after its result was stored', { evaluationId });
        else log.warn('webhook delivery failed for good', { evaluationId, error: err instanceof Error ? err.message : String(err) });
      }
    }
    await (settlesOnStore ? CancellationScope.nonCancellable(() => condition(allHandlersFinished)) : condition(allHandlersFinished));
    return { status: outcome.status, verdict: outcome.verdict };
  };
  /** `next`: the status the run moves to now, set in the same search-attribute update. */
  const scanDone = (scan: ScanOutcome, next?: { status: EvaluationStatus }) => {
    state.findings = scan.findings;
    const status = next ? [{ key: EvaluationStatusKey, value: next.status }] : [];
    // Runs recorded before the scan attributes existed must replay without this upsert.
    if (hasPatch('scan-search-attributes')) upsertSearchAttributes([...scanAttributes(scan), ...status]);
    else if (next) upsertSearchAttributes(status);
    return {
      findings: scan.findingsStored ? undefined : scan.findings,
      event: scanCompletedEvent(scan, now()),
    };
  };

  /** A single run (or a bundle's failed compile) decides the outcome. */
  const finishRun = (run: ExecuteOutcome) =>
    finish({
      status: 'completed',
      verdict: run.verdict,
      execution: run.execution,
      output: run.output,
      event: event('EVALUATION_COMPLETED', 'completed', { verdict: run.verdict, limitHit: run.limitHit }),
    });

  /**
   * A bundle: the program is built once, then each case runs in a fresh sandbox (runCase), up to
   * `parallelism` at a time and in order of position; with `first_failure`, no case starts once
   * one was not accepted. Cancelling the workflow cancels the running cases (their activities
   * heartbeat, so the sandboxes die within seconds) and starts no more.
   */
  const runBundle = async (startedAt: string): Promise<EvaluationWorkflowResult> => {
    const plan = await prepareBundle({ evaluationId });
    if (plan.compileFailure) return await finishRun(plan.compileFailure);
    const total = plan.weights.length;
    const finished: (CaseSummary | undefined)[] = new Array<CaseSummary | undefined>(total).fill(undefined);
    const counts: Record<string, number> = {};
    let next = 1;
    let running = 0;
    let stopping = false;
    const done = () => finished.filter((summary) => summary !== undefined) as CaseSummary[];
    const report = () => {
      const results = done();
      state.cases = {
        finished: results.length,
        total,
        failedPositions: results.filter((r) => r.status === 'failed').map((r) => r.position),
      };
      setCurrentDetails(bundleDetails({ startedAt, total, finished: results.length, running, counts, stopping }));
    };
    const lane = async () => {
      while (!stopping && next <= total) {
        const position = next++;
        running++;
        report();
        const summary = await runCase({ evaluationId, position });
        running--;
        finished[position - 1] = summary;
        const tallied = summary.status === 'failed' ? 'checker_failed' : (summary.verdict ?? 'none');
        counts[tallied] = (counts[tallied] ?? 0) + 1;
        if (!shouldContinue(plan.mode, done().map(asCaseOutcome)) || summary.status === 'failed') stopping = true;
        report();
      }
    };
    report();
    await Promise.all(Array.from({ length: Math.min(plan.parallelism, total) }, lane));

    const failedCase = finished.find((summary) => summary?.status === 'failed');
    if (failedCase) {
      // The checker could not judge a case: no verdict would be honest, and the submission is not to blame.
      const message = `the custom checker failed on case ${failedCase.position}: ${failedCase.error ?? 'no reason given'}`;
      return await finish({ status: 'failed', error: message, event: event('EVALUATION_FAILED', 'failed', { error: message }) });
    }
    const outcome = bundleOutcome(
      plan.weights.map((weight, index) => {
        const summary = finished[index];
        return summary === undefined ? { verdict: 'skipped', weight } : { ...asCaseOutcome(summary), weight };
      }),
    );
    return await finish({
      status: 'completed',
      verdict: outcome.verdict,
      bundle: { score: outcome.score, decidingCase: outcome.decidingCase, counts: outcome.counts },
      event: event('EVALUATION_COMPLETED', 'completed', {
        verdict: outcome.verdict,
        score: outcome.score,
        decidingCase: outcome.decidingCase,
        counts: outcome.counts,
      }),
    });
  };

  try {
    setCurrentDetails(scanningDetails());
    // Since this patch the scan is a local activity and an allowed submission reaches `execute`
    // in the first workflow task: one workflow task and one activity task fewer per evaluation,
    // and the scan's search attributes reach the server with `running`, in one update. Runs
    // that started before it replay with the scan as an activity.
    const scanInFirstTask = hasPatch('scan-in-first-task');
    if (scanInFirstTask) {
      // No search-attribute update yet: it would reach the server only with the task's end, by
      // when the scan is over; the status in PostgreSQL says `scanning` while it runs.
      state.status = 'scanning';
      if (!scanInOneLocalActivity) await recordTransition({ evaluationId, status: 'scanning', at: now() });
    } else {
      await moveTo('scanning');
    }
    const scan = scanInOneLocalActivity
      ? await securityScanLocally({ evaluationId, transitions: { scanningAt: now() } })
      : await (scanInFirstTask ? securityScanLocally : securityScan)({ evaluationId });

    if (scan.action === 'block') {
      await moveTo('scanning', scanDone(scan));
      return await finish({
        status: 'blocked',
        findings: scan.findingsStored ? undefined : scan.findings,
        error: scan.reasons.join('; ') || undefined,
        event: event('SECURITY_VIOLATION', 'violation', { ruleIds: scan.findings.map((f) => f.ruleId), reasons: scan.reasons }),
      });
    }

    let decidedBy: string | undefined;
    if (scan.action === 'review') {
      await moveTo('scanning', scanDone(scan));
      // With the scan inside the first workflow task, a review decision sent during the scan
      // reaches the workflow only with the next task: this timer ends the task before the hold
      // begins, so that decision is seen (and refused) while the run is still scanning.
      if (scanInFirstTask) await sleep(1, { summary: 'let decisions sent during the scan arrive before the hold begins' });
      const deadline = new Date(Date.now() + msToNumber(input.reviewTimeout as `${number}h`)).toISOString();
      state.reviewDeadline = deadline;
      setCurrentDetails(
        heldDetails({
          evaluationId,
          findings: scan.findings,
          findingCount: scan.findingCount ?? scan.findings.length,
          excerpts: scan.excerpts ?? [],
          codeHead: scan.codeHead,
          deadline,
        }),
      );
      // The stored status says awaiting_review only once REVIEW_REQUESTED is stored with it.
      await moveTo('awaiting_review', { event: event('REVIEW_REQUESTED', 'review-requested', { timeout: input.reviewTimeout, deadline }) });
      const answered = await condition(() => review !== undefined, input.reviewTimeout as `${number}h`, {
        summary: `review deadline: rejected unless approved by ${deadline}`,
      });
      const decision: ReviewInputRecord = answered
        ? { decision: review!.approved ? 'approved' : 'rejected', by: review!.by, reason: review!.reason, at: now() }
        : { decision: 'timed_out', by: null, reason: `no review decision within ${input.reviewTimeout}`, at: now() };
      state.review = decision;
      if (decision.decision !== 'approved') {
        const reason = decision.reason ?? 'rejected by reviewer';
        return await finish({
          status: 'rejected',
          error: reason,
          review: decision,
          event: event('REVIEW_REJECTED', 'review-rejected', { reason, by: decision.by, timedOut: !answered }),
        });
      }
      await recordTransition({
        evaluationId,
        status: 'awaiting_review',
        at: now(),
        review: decision,
        event: event('REVIEW_APPROVED', 'review-approved', { reason: decision.reason, by: decision.by }),
      });
      reviewStored = true;
      decidedBy = decision.by ?? undefined;
    } else if (!scanInFirstTask) {
      await moveTo('scanning', scanDone(scan));
    }

    // The scan's activity says when it started the run (scan-in-one-local-activity), else now.
    const startedAt = scan.startedAt ?? now();
    setCurrentDetails(runningDetails(startedAt, decidedBy));
    const executionStarted = executionStartedEvent(startedAt);
    if (scanInFirstTask && scan.action === 'allow') {
      // The scan's result and the move to `running` in one write, and one search-attribute update.
      const { findings, event: scanCompleted } = scanDone(scan, { status: 'running' });
      state.status = 'running';
      if (scan.startedAt === undefined) {
        await recordTransition({
          evaluationId,
          status: 'running',
          at: startedAt,
          startedAt,
          findings,
          events: [scanCompleted, executionStarted],
        });
      }
    } else {
      await moveTo('running', { startedAt, event: executionStarted });
    }
    // Only evaluations submitted with test cases take this branch, and their input says so from the
    // start, so histories recorded before bundles existed replay down the single-run path below.
    if (input.bundle) return await runBundle(startedAt);
    return await finishRun(await execute({ evaluationId }));
  } catch (err) {
    if (isCancellation(err)) {
      // Cleanup must run even though the workflow's own scope is cancelled.
      await CancellationScope.nonCancellable(() => finish({ status: 'cancelled', event: event('EVALUATION_CANCELLED', 'cancelled') }));
      throw err;
    }
    const failureType = applicationFailureType(err);
    if (failureType === FailureType.EvaluationNotFound) {
      throw ApplicationFailure.nonRetryable(`evaluation ${evaluationId} no longer exists`, FailureType.EvaluationNotFound);
    }
    if (failureType === FailureType.DuplicateRun) {
      // Another run owns the evaluation: this one writes nothing, and says so on its page.
      const reason = innermostMessage(err) ?? 'this run does not own the evaluation';
      state.status = 'refused';
      upsertSearchAttributes([{ key: EvaluationStatusKey, value: 'refused' }]);
      setCurrentDetails(refusedDetails(reason));
      throw ApplicationFailure.nonRetryable(reason, FailureType.DuplicateRun);
    }
    const message = describeFailure(err);
    await CancellationScope.nonCancellable(() =>
      finish({ status: 'failed', error: message, event: event('EVALUATION_FAILED', 'failed', { error: message }) }),
    );
    throw ApplicationFailure.nonRetryable(`evaluation failed: ${message}`, FailureType.EvaluationFailed);
  }
}

function asCaseOutcome(summary: CaseSummary): CaseOutcome {
  return { verdict: summary.verdict ?? 'runtime_error', score: summary.score };
}

/** The type of the ApplicationFailure an activity raised, wherever it sits in the cause chain (local activities wrap it differently). */
function applicationFailureType(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++, e = (e as Error).cause) {
    if (e instanceof ApplicationFailure && e.type) return e.type;
  }
  return undefined;
}

function innermostMessage(err: unknown): string | undefined {
  let message: string | undefined;
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++, e = (e as Error).cause) message = e.message;
  return message;
}

function scanAttributes(scan: ScanOutcome) {
  return [
    { key: EvaluationRuleIdsKey, value: [...new Set(scan.findings.map((f) => f.ruleId))] },
    { key: EvaluationSeverityKey, value: highestSeverity(scan) },
  ];
}

function highestSeverity(scan: ScanOutcome): string {
  let highest = -1;
  for (const f of scan.findings) highest = Math.max(highest, SEVERITIES.indexOf(f.severity));
  return highest >= 0 ? SEVERITIES[highest]! : 'none';
}

function describeFailure(err: unknown): string {
  if (err instanceof ActivityFailure) {
    const cause = err.cause?.message ? `: ${err.cause.message}` : '';
    // A failure the activity marked final was not retried: saying "after retries" would mislead.
    const final = err.cause instanceof ApplicationFailure && err.cause.nonRetryable;
    return `${err.activityType ?? 'activity'} failed${final ? '' : ' after retries'}${cause}`;
  }
  return err instanceof Error ? err.message : String(err);
}
