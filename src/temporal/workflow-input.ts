/**
 * The evaluation workflow's input for a stored evaluation: one function for the API, which starts
 * the workflow, and the reconciler, which starts it again for a row the API could not, so both
 * start the same run (a bundle as a bundle, with a callback when the row has one).
 */
import type { EvaluationRow } from '../db/evaluations';
import type { EvaluationWorkflowInput } from '../workflows/definitions';

export function workflowInputFor(row: EvaluationRow, reviewTimeout: string): EvaluationWorkflowInput {
  return {
    evaluationId: row.id,
    language: row.language,
    reviewTimeout,
    callback: row.callbackUrl !== null,
    ...(row.bundleMode !== null ? { bundle: true } : {}),
  };
}
