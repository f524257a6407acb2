import { ApplicationFailure } from '@temporalio/common';
import { EvaluationNotFoundError } from '../db/evaluations';

/** Failure type the workflow recognises: the evaluation's row is gone, so nothing is left to do. */
export const EVALUATION_NOT_FOUND = 'EvaluationNotFound';

/** Retrying cannot bring a deleted row back, so this one is not retried. */
export function evaluationNotFound(err: EvaluationNotFoundError): ApplicationFailure {
  return ApplicationFailure.nonRetryable(err.message, EVALUATION_NOT_FOUND);
}
