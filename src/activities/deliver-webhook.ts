/**
 * Sends the finished evaluation to its callbackUrl. Temporal's retry policy (WEBHOOK_RETRY)
 * provides the backoff and durability: each Temporal attempt is one HTTP attempt, recorded as
 * one WebhookDelivery row under Temporal's attempt number, so a replayed attempt never adds a
 * row and the stored attempts match what the receiver saw.
 *
 * Delivery is at least once: if the receiver answered 2xx but the row could not be written,
 * the next attempt sends again. Receivers deduplicate on webhook-id, which is the evaluation id
 * on every attempt.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { presentEvaluation } from '../contract/present';
import type { Db } from '../db/client';
import { EvaluationNotFoundError, EvaluationStore } from '../db/evaluations';
import { isTerminal } from '../domain/evaluation';
import { deliverWebhook as sendWebhook, DEFAULT_WEBHOOK_TIMEOUT_MS, type WebhookDeliveryResult } from '../webhooks/deliver';
import { WebhookDeliveryLog } from '../webhooks/delivery-log';
import { WEBHOOK_EVALUATION_NOT_FINISHED, WEBHOOK_REJECTED, WEBHOOK_RETRYABLE } from '../workflows/webhook-retry';
import { assertUsableSecret } from '../webhooks/signature';
import { evaluationNotFound } from './errors';

export interface DeliverWebhookDeps {
  db: Db;
  secret: string;
  allowPrivate: boolean;
  timeoutMs?: number;
}

export interface DeliverWebhookInput {
  evaluationId: string;
}

export interface DeliverWebhookResult {
  /** False only when the evaluation has no callbackUrl. */
  delivered: boolean;
  /** The attempt that succeeded (0 when nothing was sent). */
  attempts: number;
}

/** A receiver's Retry-After is honoured within these bounds, so it can neither spin us nor park us for days. */
const MIN_RETRY_AFTER_MS = 1000;
const MAX_RETRY_AFTER_MS = 10 * 60 * 1000;

export function makeDeliverWebhook(deps: DeliverWebhookDeps) {
  assertUsableSecret(deps.secret);
  const log = new WebhookDeliveryLog(deps.db);
  // Through the store, so the body is built from a parsed row.
  const store = new EvaluationStore(deps.db);

  return async function deliverWebhook(input: DeliverWebhookInput): Promise<DeliverWebhookResult> {
    const { evaluationId } = input;
    const attempt = Context.current().info.attempt;

    const alreadySucceeded = await log.successfulAttempt(evaluationId);
    if (alreadySucceeded !== undefined) return { delivered: true, attempts: alreadySucceeded };

    const row = await store.get(evaluationId);
    if (!row) throw evaluationNotFound(new EvaluationNotFoundError(evaluationId));
    if (!row.callbackUrl) return { delivered: false, attempts: 0 };
    if (!isTerminal(row.status)) {
      throw ApplicationFailure.nonRetryable(
        `evaluation ${evaluationId} is ${row.status}; its webhook is sent once it is finished`,
        WEBHOOK_EVALUATION_NOT_FINISHED,
      );
    }

    const result = await sendWebhook({
      url: row.callbackUrl,
      secret: deps.secret,
      body: JSON.stringify(presentEvaluation(row)),
      evaluationId,
      timeoutMs: deps.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS,
      allowPrivate: deps.allowPrivate,
    });
    await log.record({
      evaluationId,
      attempt,
      url: row.callbackUrl,
      statusCode: result.statusCode,
      error: result.error,
      succeeded: result.outcome === 'succeeded',
      durationMs: result.durationMs,
    });
    Context.current().log.info('webhook attempt', {
      evaluationId,
      attempt,
      outcome: result.outcome,
      statusCode: result.statusCode,
      durationMs: result.durationMs,
    });

    if (result.outcome === 'succeeded') return { delivered: true, attempts: attempt };
    throw failureFor(result, attempt);
  };
}

function failureFor(result: WebhookDeliveryResult, attempt: number): ApplicationFailure {
  const message = `webhook attempt ${attempt} failed: ${result.error ?? 'unknown error'}`;
  if (result.outcome === 'permanent') return ApplicationFailure.nonRetryable(message, WEBHOOK_REJECTED);
  return ApplicationFailure.create({
    message,
    type: WEBHOOK_RETRYABLE,
    nonRetryable: false,
    details: [{ statusCode: result.statusCode ?? null }],
    ...(result.retryAfterMs !== undefined
      ? { nextRetryDelay: Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, result.retryAfterMs)) }
      : {}),
  });
}
