/** Small lifecycle writes (status and event) between the main steps. */
import type { EvaluationStore } from '../db/evaluations';
import type { TransitionInput } from './types';

export function makeRecordTransition(deps: { store: EvaluationStore }) {
  return async function recordTransition(input: TransitionInput): Promise<void> {
    await deps.store.recordTransition({
      evaluationId: input.evaluationId,
      status: input.status,
      at: new Date(input.at),
      findings: input.findings,
      startedAt: input.startedAt ? new Date(input.startedAt) : undefined,
      event: input.event ? { ...input.event, at: new Date(input.event.at) } : undefined,
    });
  };
}
