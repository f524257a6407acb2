import { ApplicationFailure } from '@temporalio/common';
import { EvaluationNotFoundError, ExecutionRefusedError, NotOwningRunError } from '../db/evaluations';

/** Failure type the workflow recognises: the evaluation's row is gone, so nothing is left to do. */
export const EVALUATION_NOT_FOUND = 'EvaluationNotFound';
/** This run does not own the evaluation (a reset, a re-run, a hand-started workflow): it must stop. */
export const DUPLICATE_RUN = 'DuplicateRun';
/** The sandbox gate refused to run the code (not approved, not running, already finished). */
export const EXECUTION_REFUSED = 'ExecutionRefused';

/** Retrying cannot bring a deleted row back, so this one is not retried. */
export function evaluationNotFound(err: EvaluationNotFoundError): ApplicationFailure {
  return ApplicationFailure.nonRetryable(err.message, EVALUATION_NOT_FOUND);
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
    if (err instanceof NotOwningRunError) throw ApplicationFailure.nonRetryable(err.message, DUPLICATE_RUN);
    if (err instanceof ExecutionRefusedError) throw ApplicationFailure.nonRetryable(err.message, EXECUTION_REFUSED);
    throw err;
  }
}
