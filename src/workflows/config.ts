/**
 * What the workflows, the activities and the callers must agree on, in one place: failure type
 * names and the activities' timeouts and retry policies. Bundle-safe (workflow code imports it).
 */
import { ActivityCancellationType, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';

/** ApplicationFailure types that cross the workflow/activity boundary. */
export const FailureType = {
  /** The evaluation's row is gone: nothing is left to do, so it is not retried. */
  EvaluationNotFound: 'EvaluationNotFound',
  /** This run does not own the evaluation (a reset, a re-run, a hand-started workflow): it must stop. */
  DuplicateRun: 'DuplicateRun',
  /** The sandbox gate refused to run the code (not approved, not running, already finished). */
  ExecutionRefused: 'ExecutionRefused',
  /** The workflow's own failure after it stored `failed`. */
  EvaluationFailed: 'EvaluationFailed',
  /** A review decision refused because none is awaited (not held, or already decided). */
  NotAwaitingReview: 'NotAwaitingReview',
  /** A review decision whose input is neither a string nor {reason, by}. */
  InvalidReviewInput: 'InvalidReviewInput',
} as const;

// Writes must land whatever PostgreSQL is doing: retry forever, backoff capped.
const persistRetry = { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' } as const;

export const PERSIST_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: persistRetry,
  summary: 'store the final status, verdict and output in PostgreSQL',
};

export const TRANSITION_OPTIONS = { startToCloseTimeout: '30 seconds', retry: persistRetry } as const;

/**
 * The terminal write as a local activity (runs started since the `persist-as-local-activity`
 * patch): the same write, retries and timeout, run by the worker that holds the workflow task, so
 * the result is stored without one more round trip through the server and one more workflow task.
 * A worker that dies mid-write loses the task; the next worker replays to this point and writes
 * again, which the store makes a no-op.
 */
export const PERSIST_LOCAL_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: persistRetry,
  summary: PERSIST_OPTIONS.summary,
};

export const SCAN_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '10 seconds',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [FailureType.EvaluationNotFound],
  },
  summary: 'scan the code (parse only, nothing runs) and apply the policy',
};

/**
 * The scan as a local activity (runs started since the `scan-in-first-task` patch): the same
 * retries and timeout, run by the worker that holds the first workflow task, so an allowed
 * submission's `execute` is scheduled in that same task. It only parses (nothing of the
 * submission runs), is bounded by the scanner's own limits, and finishes in milliseconds; a
 * worker that dies mid-scan loses the task, and the next worker scans again (the stored findings
 * are simply written again).
 */
export const SCAN_LOCAL_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: SCAN_OPTIONS.startToCloseTimeout!,
  retry: SCAN_OPTIONS.retry,
  summary: SCAN_OPTIONS.summary,
};

/** How many times `execute` is tried: each attempt after an infrastructure failure runs the code again. */
export const EXECUTE_MAX_ATTEMPTS = 3;

// The sandbox kills the program at its wall-time limit (300 s at most); the rest is margin.
// Heartbeats let a dead worker's attempt be retried within seconds, and carry cancellation.
export const EXECUTE_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '6 minutes',
  heartbeatTimeout: '5 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    maximumInterval: '10 seconds',
    maximumAttempts: EXECUTE_MAX_ATTEMPTS,
    nonRetryableErrorTypes: [FailureType.EvaluationNotFound],
  },
  summary: 'run the code in the sandbox under its limits',
};

/** Building a bundle's program (and checker) is a compile: the same patience and retries as a run. */
export const PREPARE_BUNDLE_OPTIONS: ActivityOptions = {
  ...EXECUTE_OPTIONS,
  summary: "build the bundle's program (and custom checker) once, in the sandbox",
};

export const RUN_CASE_OPTIONS: ActivityOptions = {
  ...EXECUTE_OPTIONS,
  summary: 'run one test case in a fresh sandbox and judge it',
};
