import { ApplicationFailure } from '@temporalio/common';
import { EvaluationNotFoundError, ExecutionRefusedError, NotOwningRunError } from '../db/evaluations';

import { FailureType } from '../workflows/config';

/** Retrying cannot bring a deleted row back, so this one is not retried. */
export function evaluationNotFound(err: EvaluationNotFoundError): ApplicationFailure {
  return ApplicationFailure.nonRetryable(err.message, FailureType.EvaluationNotFound);
}

/**
 * Runs an activity body and turns the store's refusals into non-retryable failures the
 * workflow can tell apart; every other error (a database blip) stays retryable.
 */
export async function refusalsAreFinal<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof EvaluationNotFoundError) throw evaluationNotFound(err);
    if (err instanceof NotOwningRunError) throw ApplicationFailure.nonRetryable(err.message, FailureType.DuplicateRun);
    if (err instanceof ExecutionRefusedError) throw ApplicationFailure.nonRetryable(err.message, FailureType.ExecutionRefused);
    throw err;
  }
}
