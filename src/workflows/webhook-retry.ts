/**
 * How the workflow schedules `deliverWebhook`. Workflow code imports this file, so it must stay
 * free of Node imports (type-only imports are erased and are fine).
 */
import type { ActivityOptions, RetryPolicy } from '@temporalio/common';

/** Failure type of an attempt worth repeating (5xx, 408, 429, network error, timeout). */
export const WEBHOOK_RETRYABLE = 'WebhookRetryable';
/** Failure type of an attempt that repeating cannot fix (3xx, other 4xx, refused URL). */
export const WEBHOOK_REJECTED = 'WebhookRejected';
/** The evaluation is not terminal yet: the workflow called the activity too early. */
export const WEBHOOK_EVALUATION_NOT_FINISHED = 'WebhookEvaluationNotFinished';

/**
 * Exponential backoff 1 s, 2 s, 4 s ... capped at 5 min, 12 attempts: about 18 minutes of
 * retrying, enough to ride out a receiver's deploy or short outage without keeping the workflow
 * open for days.
 */
export const WEBHOOK_RETRY: RetryPolicy = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '5m',
  maximumAttempts: 12,
  nonRetryableErrorTypes: [WEBHOOK_REJECTED, WEBHOOK_EVALUATION_NOT_FINISHED],
};

/**
 * One attempt takes at most the HTTP timeout (10 s by default, DNS included) plus two small
 * PostgreSQL writes; 30 s leaves room for both. Keep it above WEBHOOK_TIMEOUT_MS.
 */
export const WEBHOOK_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: WEBHOOK_RETRY,
};
